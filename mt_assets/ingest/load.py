"""Load raw files into llm.dataset_editions / llm.dataset / llm.rejected_rows.

One transaction per file: the file streams through the row rules, and accepted rows go
with COPY straight into llm.dataset in file order (the first line of a duplicated
source_reference is kept, later ones are rejected); rejected rows are spooled and inserted
after that COPY. Memory stays bounded but for one dict entry per reference. A file-level
problem rolls the transaction back, so that file loads nothing.

Idempotent by content and reading options: a file whose (edition name, SHA-256 of its
bytes, SHA-256 of its effective options - EditionSpec.options) is already loaded is skipped
and nothing is written. A changed file, or a changed editions.yaml entry for it, becomes a
new version of its edition (version + 1) loaded next to the old one, whose rows stay
untouched. A version is kept even when every row was rejected (its rejections are the
report), but llm.current_dataset_editions shows the newest version that holds rows.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import psycopg
from psycopg.types.json import Jsonb

from mt_assets.ingest.errors import FileError
from mt_assets.ingest.manifest import RawFile
from mt_assets.ingest.readers import read_records
from mt_assets.ingest.rules import RowRules
from mt_assets.ingest.rules import rejected as _rejected

_DATASET_COPY = (
    "copy llm.dataset (edition_id, source_text, source_paragraph, source_reference, official_translate, "
    "source_language, target_language) from stdin"
)

_REJECTED_STAGING = """
create temp table ingest_rejected (line integer not null, raw_content text, reason text not null) on commit drop
"""

_INSERT_REJECTED = """
insert into llm.rejected_rows (edition_id, source_file, file_sha256, line_number, raw_content, reason)
select %(edition)s, %(file)s, %(sha)s, line, raw_content, reason
from pg_temp.ingest_rejected
"""

# The options' key is computed by PostgreSQL, as migration 0011 computed it for the versions
# loaded before it: jsonb's text is canonical, so equal options always give one hash.
_OPTIONS_SHA256 = "select encode(sha256(convert_to(%s::jsonb::text, 'UTF8')), 'hex')"


# Rejected rows wait in a spool (memory, then disk) until the COPY into llm.dataset ends: a
# connection runs one COPY at a time, and a file may be all bad rows.
_SPOOL_IN_MEMORY = 8 << 20
# COPY text format: these four are the characters a field must escape.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def quote_literal(text: str) -> str:
    """PostgreSQL's quote_literal / format('%L'): how a reason quotes a reference."""
    quoted = "'" + text.replace("'", "''") + "'"
    return "E" + quoted.replace("\\", "\\\\") if "\\" in text else quoted


@dataclass(frozen=True)
class EditionLoad:
    """What happened to one file."""

    name: str
    source_file: str
    sha256: str
    status: Literal["loaded", "unchanged", "failed"]
    edition_id: int | None = None
    version: int | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    languages: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)  # rejection kind -> rows
    error: str | None = None


def load_files(conn: psycopg.Connection, files: Iterable[RawFile]) -> list[EditionLoad]:
    return [load_file(conn, raw) for raw in files]


def load_file(conn: psycopg.Connection, raw: RawFile) -> EditionLoad:
    spec = raw.spec
    try:
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(hashtext('mt_assets.ingest:' || %s))", (spec.name,))
            options_sha256 = conn.execute(_OPTIONS_SHA256, (Jsonb(spec.options()),)).fetchone()[0]
            done = _already_loaded(conn, raw, options_sha256)
            if done is not None:
                return done
            return _load(conn, raw, options_sha256)
    except FileError as err:
        return EditionLoad(spec.name, str(spec.path), raw.sha256, "failed", error=str(err))


def _already_loaded(conn: psycopg.Connection, raw: RawFile, options_sha256: str) -> EditionLoad | None:
    row = conn.execute(
        "select id, version, rows_read, rows_loaded, rows_rejected from llm.dataset_editions "
        "where name = %s and file_sha256 = %s and options_sha256 = %s",
        (raw.spec.name, raw.sha256, options_sha256),
    ).fetchone()
    if row is not None:
        edition_id, version, read, loaded, rejected = row
        return EditionLoad(raw.spec.name, str(raw.spec.path), raw.sha256, "unchanged", edition_id, version,
                           read, loaded, rejected)
    other = conn.execute(
        "select name from llm.dataset_editions where file_sha256 = %s and name <> %s order by id limit 1",
        (raw.sha256, raw.spec.name),
    ).fetchone()
    if other is not None:
        # Its rows would duplicate the other edition's: one text counted twice in splits and scores.
        raise FileError(
            raw.spec.path,
            f"identical content is already loaded as edition {other[0]!r}; keep one copy, "
            f"or name this file's edition {other[0]!r} in editions.yaml",
        )
    return None


def _load(conn: psycopg.Connection, raw: RawFile, options_sha256: str) -> EditionLoad:
    spec = raw.spec
    version = conn.execute(
        "select coalesce(max(version), 0) + 1 from llm.dataset_editions where name = %s", (spec.name,)
    ).fetchone()[0]
    edition_id = conn.execute(
        "insert into llm.dataset_editions (name, description, link, source_language, version, target_language, "
        "source_file, file_sha256, options, options_sha256) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "returning id",
        (spec.name, spec.description, spec.link, spec.source_language, version, spec.target_language,
         spec.path.name, raw.sha256, Jsonb(spec.options()), options_sha256),
    ).fetchone()[0]
    # Accepted rows stream straight into llm.dataset, in file order, while the server works in
    # parallel with this parse. Duplicates are found here, exactly (str equality is byte equality
    # after NFC): a dict of references costs ~130 bytes a row, far less than staging and sorting
    # the whole file in the server. The table's unique key stays the safety net.
    conn.execute(_REJECTED_STAGING)
    rules = RowRules(spec)
    hasher = hashlib.sha256()
    rows_read = 0
    first_line: dict[str, int] = {}
    languages: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    target = spec.target_language
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY, mode="w+b") as spool:
        with conn.cursor().copy(_DATASET_COPY) as copy:
            for record in read_records(spec, hasher):
                rows_read += 1
                staged = rules.stage(record)
                reason = staged[7]
                if reason is None:
                    line, text, paragraph, reference = staged[0], staged[1], staged[2], staged[3]
                    kept = first_line.setdefault(reference, line)
                    if kept == line:
                        copy.write_row((edition_id, text, paragraph, reference, staged[4], staged[5], target))
                        languages[staged[5]] += 1
                        continue
                    reason = f"duplicate source_reference: {quote_literal(reference)} (first kept: line {kept})"
                    staged = _rejected(record, reason)
                spool.write(_copy_line(staged[0], staged[6], reason))
                reasons[reason.split(":", 1)[0]] += 1
        _same_bytes(raw, hasher)
        if rows_read == 0:
            raise FileError(spec.path, "no data rows")
        _stage_rejected(conn, spool)
    loaded = sum(languages.values())

    params = {"edition": edition_id, "file": spec.path.name, "sha": raw.sha256}
    rejected = conn.execute(_INSERT_REJECTED, params).rowcount
    conn.execute(
        "update llm.dataset_editions set rows_read = %s, rows_loaded = %s, rows_rejected = %s where id = %s",
        (rows_read, loaded, rejected, edition_id),
    )
    return EditionLoad(spec.name, str(spec.path), raw.sha256, "loaded", edition_id, version,
                       rows_read, loaded, rejected, dict(sorted(languages.items())),
                       dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))))


def _copy_line(line: int, raw_content: str, reason: str) -> bytes:
    fields = (str(line), raw_content.translate(_COPY_ESCAPES), reason.translate(_COPY_ESCAPES))
    return ("\t".join(fields) + "\n").encode()


def _stage_rejected(conn: psycopg.Connection, spool) -> None:
    spool.seek(0)
    with conn.cursor().copy("copy pg_temp.ingest_rejected (line, raw_content, reason) from stdin") as copy:
        while chunk := spool.read(1 << 20):
            copy.write(chunk)


def _same_bytes(raw: RawFile, hasher) -> None:
    if hasher.hexdigest() != raw.sha256:
        raise FileError(raw.spec.path, "the file changed while it was being loaded; materialize again")
