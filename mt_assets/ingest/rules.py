"""Row rules: turn a record into a normalised row, or into a rejection reason.

Reasons read `kind[: detail]`, so they can be counted by kind. Checked here, per row:
wrong field count / malformed quoting / invalid JSON (from the reader), a NUL character,
an empty source_text, official_translate or source_reference, an unparseable
source_paragraph, a missing or unknown language code. Duplicate references need the whole
file and are found in the database (see load.py): the first occurrence is kept.
"""

from __future__ import annotations

import re
from typing import Any

from mt_assets import languages
from mt_assets.ingest import normalize
from mt_assets.ingest.manifest import EditionSpec
from mt_assets.ingest.readers import Record

# (line, source_text, source_paragraph, source_reference, official_translate, source_language,
#  raw_content, reason): one row of the staging table. raw_content only for rejected rows.
Staged = tuple[int, str | None, int | None, str | None, str | None, str | None, str | None, str | None]

_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_INT4 = range(-(2**31), 2**31)


def rejected(record: Record, reason: str) -> Staged:
    raw = record.raw.replace("\x00", "\\x00")  # PostgreSQL text cannot hold NUL
    return (record.line, None, None, None, None, None, raw, reason)


def _as_text(name: str, value: Any) -> str:
    if type(value) is str:
        if "\x00" in value:
            raise ValueError(f"NUL character: in {name}")
        return value
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"not text: {name} is a JSON {type(value).__name__}")


def _paragraph(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _INTEGER.match(value.strip()):
        number = int(value.strip())
    else:
        raise ValueError(f"unparseable source_paragraph: {value!r} is not a whole number")
    if number not in _INT4:
        raise ValueError(f"unparseable source_paragraph: {number} is out of range")
    return number


class RowRules:
    def __init__(self, spec: EditionSpec):
        self.default_language = spec.source_language
        self.options = spec.normalize

    def stage(self, record: Record) -> Staged:
        if record.error is not None:
            return rejected(record, record.error)
        text, paragraph, reference, translate, language = record.values
        try:
            text = _as_text("source_text", text)
            reference = normalize.clean(_as_text("source_reference", reference))
            translate = normalize.clean(_as_text("official_translate", translate))
            language = _as_text("source_language", language).strip().lower() or self.default_language
            paragraph = _paragraph(paragraph)
        except ValueError as err:
            return rejected(record, str(err))
        if not language:
            return rejected(record, "empty source_language")
        if not languages.is_known(language):
            return rejected(record, f"unknown language code: {language!r} (known: {', '.join(sorted(languages.NAMES))})")
        text = normalize.source_text(text, language, self.options)
        if not text:
            return rejected(record, "empty source_text")
        if not translate:
            return rejected(record, "empty official_translate")
        if not reference:
            return rejected(record, "empty source_reference")
        return (record.line, text, paragraph, reference, translate, language, None, None)
