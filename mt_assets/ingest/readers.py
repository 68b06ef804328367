"""Stream a raw file as records with 1-based physical line numbers (the header is line 1).

Bytes are read line by line and decoded strictly as UTF-8 (a leading BOM is dropped, CRLF
and LF both work), so an undecodable byte is reported with its exact line. TSV is read
without quoting by default (a quote is just a character); CSV follows RFC 4180: quoted
fields may hold delimiters, doubled quotes and line breaks, and the record keeps the line
number of its first line. Lines holding only whitespace (blank ones too, with LF or CRLF,
anywhere after the header) are not rows, in all three formats. The file's SHA-256 is
computed from the same bytes, so a file that changes while loading is caught.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from operator import itemgetter
from typing import Any, NamedTuple

from mt_assets.ingest.errors import FileError
from mt_assets.ingest.manifest import SEED_COLUMNS, EditionSpec

_BOM = b"\xef\xbb\xbf"
# A 1 MB field is legitimate; Python's default CSV limit is 128 KiB.
csv.field_size_limit(1 << 30)


class Record(NamedTuple):  # a NamedTuple: one is built per row, and these build fastest
    line: int
    raw: str
    values: tuple[Any, ...] | None  # in SEED_COLUMNS order; None for a value the file lacks
    error: str | None = None  # a row-level parse problem: the row is rejected with this reason


def required_columns(spec: EditionSpec) -> tuple[str, ...]:
    required = ("source_text", "source_reference", "official_translate")
    return required if spec.source_language else (*required, "source_language")


def read_records(spec: EditionSpec, hasher) -> Iterator[Record]:
    """Data records of the file; raises FileError for a problem with the whole file."""
    lines = _decoded_lines(spec, hasher)
    if spec.format == "jsonl":
        return _jsonl(spec, lines)
    if spec.quoting == "none":
        return _delimited(spec, lines)
    return _quoted(spec, lines)


def _decoded_lines(spec: EditionSpec, hasher) -> Iterator[tuple[int, str]]:
    try:
        f = spec.path.open("rb")
    except OSError as err:
        raise FileError(spec.path, f"unreadable: {err.strerror or err}") from None
    with f:
        n = 0
        try:
            for n, data in enumerate(f, 1):
                hasher.update(data)
                if n == 1:
                    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
                        raise FileError(spec.path, "file is UTF-16; save it as UTF-8", 1)
                    data = data.removeprefix(_BOM)
                try:
                    yield n, data.decode("utf-8")
                except UnicodeDecodeError as err:
                    raise FileError(
                        spec.path,
                        f"undecodable bytes {data[err.start:err.start + 4]!r} at byte {err.start + 1} "
                        "of the line: the file is not UTF-8",
                        n,
                    ) from None
        except OSError as err:
            raise FileError(spec.path, f"unreadable: {err.strerror or err}", n + 1) from None


def _strip_eol(text: str) -> str:
    if text.endswith("\n"):
        return text[:-2] if text.endswith("\r\n") else text[:-1]
    return text


def _column_indexes(spec: EditionSpec, header: list[str]) -> tuple[int | None, ...]:
    names = [h.strip() for h in header]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise FileError(spec.path, f"column {name!r} appears twice in the header", 1)
        seen.add(name)
    for seed in required_columns(spec):
        wanted = spec.columns[seed]
        if wanted not in seen:
            mapped = f" (mapped from {seed!r} in editions.yaml)" if wanted != seed else ""
            raise FileError(
                spec.path, f"missing required column {wanted!r}{mapped}; the header has: {', '.join(names)}", 1
            )
    return tuple(names.index(spec.columns[seed]) if spec.columns[seed] in seen else None for seed in SEED_COLUMNS)


def _picker(indexes: tuple[int | None, ...], width: int):
    """fields -> values in SEED_COLUMNS order; an absent column reads the None appended at `width`."""
    getter = itemgetter(*(width if i is None else i for i in indexes))

    def pick(fields: list[Any]) -> tuple[Any, ...]:
        fields.append(None)
        return getter(fields)

    return pick


def _wrong_count(expected: int, found: int) -> str:
    return f"wrong field count: expected {expected}, found {found}"


def _delimited(spec: EditionSpec, lines: Iterator[tuple[int, str]]) -> Iterator[Record]:
    first = next(lines, None)
    if first is None:
        raise FileError(spec.path, "empty file: no header line")
    header = _strip_eol(first[1]).split(spec.delimiter)
    width = len(header)
    pick = _picker(_column_indexes(spec, header), width)
    delimiter = spec.delimiter
    for n, text in lines:
        line = _strip_eol(text)
        if not line or line.isspace():
            continue
        fields = line.split(delimiter)
        if len(fields) != width:
            yield Record(n, line, None, _wrong_count(width, len(fields)))
        else:
            yield Record(n, line, pick(fields))


def _quoted(spec: EditionSpec, lines: Iterator[tuple[int, str]]) -> Iterator[Record]:
    consumed: list[str] = []

    def feed() -> Iterator[str]:
        for _, text in lines:
            consumed.append(text)
            yield text

    reader = csv.reader(feed(), delimiter=spec.delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise FileError(spec.path, "empty file: no header line") from None
    except csv.Error as err:
        raise FileError(spec.path, f"malformed header: {err}", 1) from None
    width = len(header)
    pick = _picker(_column_indexes(spec, header), width)
    start = reader.line_num + 1
    while True:
        consumed.clear()
        try:
            fields = next(reader)
            error = None if len(fields) == width else _wrong_count(width, len(fields))
        except StopIteration:
            return
        except csv.Error as err:
            fields, error = [], f"malformed CSV quoting: {err}"
        line, start = start, reader.line_num + 1
        raw = _strip_eol("".join(consumed))
        # Before the field count: the csv module reads a blank line as a record of 0 fields.
        if not raw or raw.isspace():
            continue
        yield Record(line, raw, None if error else pick(fields), error)


def _jsonl(spec: EditionSpec, lines: Iterator[tuple[int, str]]) -> Iterator[Record]:
    keys = tuple(spec.columns[seed] for seed in SEED_COLUMNS)
    empty = True
    for n, text in lines:
        empty = False
        line = _strip_eol(text)
        if not line or line.isspace():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            yield Record(n, line, None, f"invalid JSON: {err.msg} at column {err.colno}")
            continue
        if not isinstance(obj, dict):
            yield Record(n, line, None, f"a JSON object is expected, found {type(obj).__name__}")
            continue
        yield Record(n, line, tuple(obj.get(k) for k in keys))
    if empty:
        raise FileError(spec.path, "empty file")
