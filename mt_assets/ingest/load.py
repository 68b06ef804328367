"""Load raw files into llm.dataset_editions / llm.dataset / llm.rejected_rows.

One transaction per file: the file streams through the row rules into a temporary staging
table with COPY (memory stays bounded), duplicates of a source_reference are found there
(first line kept), then rejected rows and accepted rows are inserted with two statements.
A file-level problem rolls the transaction back, so that file loads nothing.

Idempotent by content: a file whose (edition name, SHA-256) is already loaded is skipped
and nothing is written. A changed file becomes a new version of its edition (version + 1)
loaded next to the old one, whose rows stay untouched; llm.current_dataset shows the newest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import psycopg
from psycopg.types.json import Jsonb

from mt_assets.ingest.errors import FileError
from mt_assets.ingest.manifest import RawFile
from mt_assets.ingest.readers import read_records
from mt_assets.ingest.rules import RowRules

_COLUMNS = "line, source_text, source_paragraph, source_reference, official_translate, source_language, raw_content, reason"

_STAGING = """
create temp table ingest_staging (
    line integer not null, source_text text, source_paragraph integer, source_reference text,
    official_translate text, source_language text, raw_content text, reason text
) on commit drop;
create temp table ingest_duplicates (line integer primary key, raw_content text, reason text) on commit drop;
"""

_DUPLICATES = """
select line, format('duplicate source_reference: %L (first kept: line %s)', source_reference, first_line)
from (
    select line, source_reference,
           first_value(line) over w as first_line, row_number() over w as n
    from pg_temp.ingest_staging
    where reason is null
    -- equality is byte equality under any deterministic collation; "C" just skips strcoll
    window w as (partition by source_reference collate "C" order by line)
) t
where n > 1
"""

_MARK_DUPLICATES = """
update pg_temp.ingest_staging s set reason = d.reason, raw_content = d.raw_content
from pg_temp.ingest_duplicates d where s.line = d.line
"""

_INSERT_REJECTED = """
insert into llm.rejected_rows (edition_id, source_file, file_sha256, line_number, raw_content, reason)
select %(edition)s, %(file)s, %(sha)s, line, raw_content, reason
from pg_temp.ingest_staging where reason is not null
on conflict (file_sha256, line_number) do nothing
"""

_INSERT_ACCEPTED = """
insert into llm.dataset (edition_id, source_text, source_paragraph, source_reference, official_translate,
                         source_language, target_language)
select %(edition)s, source_text, source_paragraph, source_reference, official_translate, source_language,
       %(target)s
from pg_temp.ingest_staging where reason is null
order by line
"""


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
            done = _already_loaded(conn, raw)
            if done is not None:
                return done
            return _load(conn, raw)
    except FileError as err:
        return EditionLoad(spec.name, str(spec.path), raw.sha256, "failed", error=str(err))


def _already_loaded(conn: psycopg.Connection, raw: RawFile) -> EditionLoad | None:
    row = conn.execute(
        "select id, version, rows_read, rows_loaded, rows_rejected from llm.dataset_editions "
        "where name = %s and file_sha256 = %s",
        (raw.spec.name, raw.sha256),
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
        # Its rejected rows would collide on (file_sha256, line_number) and its rows would be duplicates.
        raise FileError(
            raw.spec.path,
            f"identical content is already loaded as edition {other[0]!r}; keep one copy, "
            f"or name this file's edition {other[0]!r} in editions.yaml",
        )
    return None


def _load(conn: psycopg.Connection, raw: RawFile) -> EditionLoad:
    spec = raw.spec
    version = conn.execute(
        "select coalesce(max(version), 0) + 1 from llm.dataset_editions where name = %s", (spec.name,)
    ).fetchone()[0]
    edition_id = conn.execute(
        "insert into llm.dataset_editions (name, description, link, source_language, version, target_language, "
        "source_file, file_sha256, options) values (%s, %s, %s, %s, %s, %s, %s, %s, %s) returning id",
        (spec.name, spec.description, spec.link, spec.source_language, version, spec.target_language,
         spec.path.name, raw.sha256, Jsonb(spec.options())),
    ).fetchone()[0]
    conn.execute(_STAGING)
    # The duplicate search and the final insert each sort the whole file; with the default 4 MB
    # they spill to disk. Transaction-local, so the server's setting is untouched afterwards.
    conn.execute("set local work_mem = '256MB'")

    rules = RowRules(spec)
    hasher = hashlib.sha256()
    rows_read = 0
    with conn.cursor().copy(f"copy pg_temp.ingest_staging ({_COLUMNS}) from stdin") as copy:
        for record in read_records(spec, hasher):
            copy.write_row(rules.stage(record))
            rows_read += 1
    _same_bytes(raw, hasher)
    if rows_read == 0:
        raise FileError(spec.path, "no data rows")
    _mark_duplicates(conn, raw)

    params = {"edition": edition_id, "file": spec.path.name, "sha": raw.sha256, "target": spec.target_language}
    rejected = conn.execute(_INSERT_REJECTED, params).rowcount
    loaded = conn.execute(_INSERT_ACCEPTED, params).rowcount
    conn.execute(
        "update llm.dataset_editions set rows_read = %s, rows_loaded = %s, rows_rejected = %s where id = %s",
        (rows_read, loaded, rejected, edition_id),
    )
    languages = dict(conn.execute(
        "select source_language, count(*) from pg_temp.ingest_staging where reason is null group by 1 order by 1"
    ).fetchall())
    reasons = dict(conn.execute(
        "select split_part(reason, ':', 1), count(*) from pg_temp.ingest_staging where reason is not null "
        "group by 1 order by 2 desc, 1"
    ).fetchall())
    return EditionLoad(spec.name, str(spec.path), raw.sha256, "loaded", edition_id, version,
                       rows_read, loaded, rejected, languages, reasons)


def _same_bytes(raw: RawFile, hasher) -> None:
    if hasher.hexdigest() != raw.sha256:
        raise FileError(raw.spec.path, "the file changed while it was being loaded; materialize again")


def _mark_duplicates(conn: psycopg.Connection, raw: RawFile) -> None:
    """Give duplicate rows their reason and their raw text (accepted rows travel without it,
    so a second pass over the file fetches it, only when there are duplicates)."""
    reasons = dict(conn.execute(_DUPLICATES).fetchall())
    if not reasons:
        return
    hasher = hashlib.sha256()
    with conn.cursor().copy("copy pg_temp.ingest_duplicates (line, raw_content, reason) from stdin") as copy:
        for record in read_records(raw.spec, hasher):
            reason = reasons.get(record.line)
            if reason is not None:
                copy.write_row((record.line, record.raw.replace("\x00", "\\x00"), reason))
    _same_bytes(raw, hasher)
    conn.execute(_MARK_DUPLICATES)
