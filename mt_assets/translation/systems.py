"""External systems: outputs of a system we did not run, scored like our own methods.

A file `$MT_CONFIG_DIR/systems/NAME.tsv` (or `.csv`, `.jsonl`) with the columns (JSONL: keys)
`source_reference` and `translation`, and `edition` where a reference alone is ambiguous, is the
translation method `system:NAME` (kind 'system'). NAME is the file stem as it is: it must be a
safe identifier (`[a-z0-9][a-z0-9-]*`, at most 63 characters, as a tuning config name) and must
not be the name of a tuning config.

`load_systems` reads the directory (each file with `ingest.readers`: strict UTF-8, an undecodable
byte reported with its line, CSV per RFC 4180, TSV unquoted, blank lines skipped) and loads each
file in one transaction:
- a row's (source_reference, edition) must name exactly one row of the current edition versions
  (llm.current_dataset; the reference normalised as ingest stores it). Quarantined, with a reason
  `kind: detail` in llm.rejected_rows (system_file_id set): unknown references or editions, a
  reference held by several editions when the row names none, a second row for the same dataset
  row (the first is kept), an empty reference or translation, a row the reader could not parse.
  Every row read is either loaded or quarantined (llm.system_file counts both).
- a translation is stored after `translation.sanitize`, the rule every model output passes, here
  at load time because PostgreSQL cannot store what it removes (NUL); `attach_systems` copies the
  stored text and its note into llm.translation.
- idempotent: the same bytes resolved against the same edition versions change nothing. Otherwise
  the file replaces the system's outputs and quarantined rows, and the method's translations,
  scores and execution links are dropped: they came from other outputs.
- a file-level problem (no header, no data rows, a missing column, an undecodable byte, a bad name
  or a name clash) raises FileError naming the file and line from `load_system_file`; the
  transaction rolls back, so the system keeps what its last good file loaded, and `load_systems`
  reports the failure and goes on with the other files.
- a system whose file is gone from the directory is removed with its method, translations and
  scores: the directory is the list of systems, as a changed file replaces a system's scores, and
  a system left behind would be attached to every future execution with no file to show for it.

`attach_systems` puts the loaded systems into one execution: a system whose outputs cover every
test row of the config is linked to it, its translations written; one covering only some is not
linked (its rows in that execution are removed) and is reported with the number missing; one
covering none is not mentioned.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import psycopg

from mt_assets.ingest import normalize
from mt_assets.ingest.errors import FileError
from mt_assets.ingest.load import quote_literal
from mt_assets.ingest.manifest import SEED_COLUMNS, SUFFIXES, EditionSpec, sha256_of
from mt_assets.ingest.readers import Record, read_records
from mt_assets.translation.sanitize import sanitize
from mt_assets.tuning.config import NAME_PATTERN

KIND = "system"
DIRECTORY = "systems"
_NAME = re.compile(NAME_PATTERN)
_NAME_MAX = 63
# The reader maps seed columns to a file's headers; a system file's three columns ride on three of
# them (values come back in SEED_COLUMNS order). source_text is required by the reader, so it reads
# source_reference a second time; source_language is optional once a default is set.
_COLUMNS = {
    "source_text": "source_reference",
    "source_paragraph": "source_reference",
    "source_reference": "source_reference",
    "official_translate": "translation",
    "source_language": "edition",
}
_REFERENCE, _TRANSLATION, _EDITION = (SEED_COLUMNS.index(seed) for seed in
                                      ("source_reference", "official_translate", "source_language"))
_MAPPED = re.compile(r" \(mapped from '[a-z_]+' in editions\.yaml\)")


def method_name(name: str) -> str:
    return f"{KIND}:{name}"


@dataclass(frozen=True)
class SystemLoad:
    """What happened to one system file (or, status 'removed', to a system whose file is gone)."""

    name: str
    file: str
    status: Literal["loaded", "unchanged", "failed", "removed"]
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)  # rejection kind -> rows
    error: str | None = None

    @property
    def changed(self) -> bool:
        """Whether the system's outputs (and so its translations and scores) were replaced or removed."""
        return self.status in ("loaded", "removed")


@dataclass(frozen=True)
class SystemCoverage:
    name: str
    method_id: int
    covered: int  # test rows of the config the system has an output for
    missing: int  # test rows it has none for
    scored: bool  # linked to the execution, its translations written (missing == 0)


def system_files(config_dir: Path) -> list[Path]:
    """The files in config_dir/systems (not recursive; hidden files skipped), sorted."""
    directory = config_dir / DIRECTORY
    if not directory.is_dir():
        return []
    return sorted(
        p for p in directory.iterdir()
        if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith(".")
    )


def load_systems(conn: psycopg.Connection, config_dir: Path) -> list[SystemLoad]:
    """Load every system file of config_dir/systems and remove the systems whose file is gone.
    A failed file is reported (status 'failed', error) and the others still load."""
    files = system_files(config_dir)
    by_name: dict[str, list[Path]] = {}
    for path in files:
        by_name.setdefault(path.stem, []).append(path)
    loads: list[SystemLoad] = []
    for path in files:
        others = [p for p in by_name[path.stem] if p != path]
        try:
            if others:
                raise FileError(path, f"system {path.stem!r} is also defined by "
                                f"{', '.join(_display(p) for p in others)}; keep one file (all skipped)")
            loads.append(load_system_file(conn, path))
        except FileError as err:
            loads.append(SystemLoad(path.stem, _display(path), "failed", error=str(err)))
    loads.extend(_remove_missing(conn, set(by_name)))
    return loads


def load_system_file(conn: psycopg.Connection, path: Path) -> SystemLoad:
    """Load one system file in one transaction; raises FileError (and loads nothing) for a
    problem with the whole file."""
    name = path.stem
    if not _NAME.match(name) or len(name) > _NAME_MAX:
        raise FileError(path, f"system name {name!r} (the file stem) must match [a-z0-9][a-z0-9-]* "
                        f"and have at most {_NAME_MAX} characters; rename the file")
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('mt_assets.systems:' || %s))", (name,))
        _check_clash(conn, path, name)
        sha256 = sha256_of(path)
        edition_ids = conn.execute(
            "select coalesce(array_agg(id order by id), '{}') from llm.current_dataset_editions"
        ).fetchone()[0]
        stored = conn.execute(
            "select id, file_sha256, edition_ids, rows_read, rows_loaded, rows_rejected "
            "from llm.system_file where name = %s for update",
            (name,),
        ).fetchone()
        if stored is not None and (stored[1], stored[2]) == (sha256, edition_ids):
            return SystemLoad(name, _display(path), "unchanged", *stored[3:], _stored_reasons(conn, stored[0]))
        outputs, rejected, rows_read = _read(conn, path, name, sha256)
        return _store(conn, path, name, sha256, edition_ids, stored is not None, outputs, rejected, rows_read)


def attach_systems(conn: psycopg.Connection, execution_id: int, config_id: int) -> list[SystemCoverage]:
    """Link every loaded system covering all of the config's test rows to the execution and write
    its translations there; unlink (and drop from the execution) one covering only some."""
    with conn.transaction():
        total = conn.execute(
            "select count(*) from llm.tuning_dataset_distribution where tuning_config_id = %s and split = 'test'",
            (config_id,),
        ).fetchone()[0]
        systems = conn.execute(
            "select sf.name, m.id, count(td.id) from llm.system_file sf "
            "join llm.translation_method m on m.name = %s || sf.name and m.kind = %s "
            "left join llm.system_output so on so.system_file_id = sf.id "
            "left join llm.tuning_dataset_distribution td on td.dataset_record_id = so.dataset_id "
            "  and td.tuning_config_id = %s and td.split = 'test' "
            "group by sf.name, m.id order by sf.name",
            (f"{KIND}:", KIND, config_id),
        ).fetchall()
        coverage: list[SystemCoverage] = []
        for name, method_id, covered in systems:
            complete = covered == total and total > 0
            if complete:
                _link(conn, execution_id, method_id, config_id)
            else:
                _unlink(conn, execution_id, method_id)
            if covered:
                coverage.append(SystemCoverage(name, method_id, covered, total - covered, complete))
    return coverage


def _display(path: Path) -> str:
    return f"{DIRECTORY}/{path.name}"


def _reasons(reasons: list[str]) -> dict[str, int]:
    counts = Counter(reason.split(":", 1)[0] for reason in reasons)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _stored_reasons(conn: psycopg.Connection, system_id: int) -> dict[str, int]:
    rows = conn.execute("select reason from llm.rejected_rows where system_file_id = %s", (system_id,)).fetchall()
    return _reasons([r[0] for r in rows])


def _check_clash(conn: psycopg.Connection, path: Path, name: str) -> None:
    if conn.execute("select 1 from llm.tuning_configs where name = %s", (name,)).fetchone():
        raise FileError(path, f"system name {name!r} is also a tuning config's name; rename the file")
    other = conn.execute(
        "select kind from llm.translation_method where name = %s and kind <> %s", (method_name(name), KIND)
    ).fetchone()
    if other is not None:
        raise FileError(path, f"translation method {method_name(name)!r} already exists as a {other[0]} "
                        "method; rename the file")


def _spec(path: Path, name: str) -> EditionSpec:
    fmt = SUFFIXES[path.suffix.lower()]
    return EditionSpec(
        name=name,
        path=path,
        format=fmt,
        delimiter="," if fmt == "csv" else "\t",
        quoting="rfc4180" if fmt == "csv" else "none",
        columns=_COLUMNS,
        source_language="-",  # only so that the reader does not require an edition column
    )


def _records(path: Path, name: str, hasher) -> list[Record]:
    try:
        return list(read_records(_spec(path, name), hasher))
    except FileError as err:
        # The reader speaks of editions.yaml mappings; a system file has fixed column names.
        raise FileError(err.path, _MAPPED.sub("", err.problem), err.line) from None


def _text(column: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"not text: {column} is a JSON {type(value).__name__}")


_Output = tuple[int, int, str, str | None]  # line, dataset id, translated text, sanitize note
_Rejected = tuple[int, str, str]  # line, raw content, reason


def _read(conn: psycopg.Connection, path: Path, name: str, sha256: str) -> tuple[list[_Output], list[_Rejected], int]:
    hasher = hashlib.sha256()
    records = _records(path, name, hasher)
    if hasher.hexdigest() != sha256:
        raise FileError(path, "the file changed while it was being loaded; load it again")
    if not records:
        raise FileError(path, "no data rows")
    candidates = _candidates(conn, records)
    editions = {r[0] for r in conn.execute("select name from llm.current_dataset_editions").fetchall()}
    outputs: list[_Output] = []
    rejected: list[_Rejected] = []
    first_line: dict[int, int] = {}
    for record in records:
        try:
            dataset_id, text, note = _resolve(record, candidates, editions)
            kept = first_line.setdefault(dataset_id, record.line)
            if kept != record.line:
                raise ValueError(
                    f"duplicate source_reference: {quote_literal(_reference(record))} (first kept: line {kept})"
                )
        except ValueError as err:
            rejected.append((record.line, record.raw.replace("\x00", "\\x00"), str(err)))
            continue
        outputs.append((record.line, dataset_id, text, note))
    return outputs, rejected, len(records)


def _reference(record: Record) -> str:
    reference = normalize.clean(_text("source_reference", record.values[_REFERENCE]))
    if "\x00" in reference:
        raise ValueError("NUL character: in source_reference")
    return reference


def _candidates(conn: psycopg.Connection, records: list[Record]) -> dict[str, dict[str, int]]:
    """reference -> {edition name: dataset id} among the current edition versions."""
    references = set()
    for record in records:
        if record.error is None:
            try:
                references.add(_reference(record))
            except ValueError:
                pass  # the row is rejected for it in _resolve
    out: dict[str, dict[str, int]] = {}
    for reference, edition, dataset_id in conn.execute(
        "select d.source_reference, e.name, d.id from llm.dataset d "
        "join llm.current_dataset_editions e on e.id = d.edition_id where d.source_reference = any(%s)",
        (sorted(references),),
    ):
        out.setdefault(reference, {})[edition] = dataset_id
    return out


def _resolve(record: Record, candidates: dict[str, dict[str, int]], editions: set[str]) -> tuple[int, str, str | None]:
    """(dataset id, sanitized translation, sanitize note), or ValueError with the row's reason."""
    if record.error is not None:
        raise ValueError(record.error)
    reference = _reference(record)
    edition = normalize.clean(_text("edition", record.values[_EDITION]))
    text, note = sanitize(_text("translation", record.values[_TRANSLATION]))
    if not reference:
        raise ValueError("empty source_reference")
    if not text.strip():
        raise ValueError("empty translation")
    held = candidates.get(reference, {})
    if edition:
        if edition not in editions:
            raise ValueError(f"unknown edition: {quote_literal(edition)} (loaded: {', '.join(sorted(editions))})")
        if edition not in held:
            raise ValueError(f"unknown source_reference: {quote_literal(reference)} in edition {edition!r}")
        return held[edition], text, note
    if not held:
        raise ValueError(f"unknown source_reference: {quote_literal(reference)}")
    if len(held) > 1:
        raise ValueError(f"ambiguous source_reference: {quote_literal(reference)} is in editions "
                         f"{', '.join(sorted(held))}; add an `edition` column naming one")
    return next(iter(held.values())), text, note


def _store(
    conn: psycopg.Connection,
    path: Path,
    name: str,
    sha256: str,
    edition_ids: list[int],
    replacing: bool,
    outputs: list[_Output],
    rejected: list[_Rejected],
    rows_read: int,
) -> SystemLoad:
    system_id = conn.execute(
        "insert into llm.system_file (name, source_file, file_sha256, format, edition_ids, rows_read, "
        "rows_loaded, rows_rejected) values (%s, %s, %s, %s, %s, %s, %s, %s) "
        "on conflict (name) do update set source_file = excluded.source_file, file_sha256 = excluded.file_sha256, "
        "format = excluded.format, edition_ids = excluded.edition_ids, rows_read = excluded.rows_read, "
        "rows_loaded = excluded.rows_loaded, rows_rejected = excluded.rows_rejected, loaded_at = now() "
        "returning id",
        (name, _display(path), sha256, SUFFIXES[path.suffix.lower()], edition_ids, rows_read, len(outputs),
         len(rejected)),
    ).fetchone()[0]
    if replacing:
        conn.execute("delete from llm.system_output where system_file_id = %s", (system_id,))
        conn.execute("delete from llm.rejected_rows where system_file_id = %s", (system_id,))
    with conn.cursor() as cur:
        with cur.copy("copy llm.system_output (system_file_id, line_number, dataset_id, translated_text, sanitized) "
                      "from stdin") as copy:
            for line, dataset_id, text, note in outputs:
                copy.write_row((system_id, line, dataset_id, text, note))
        with cur.copy("copy llm.rejected_rows (system_file_id, source_file, file_sha256, line_number, raw_content, "
                      "reason) from stdin") as copy:
            for line, raw, reason in rejected:
                copy.write_row((system_id, _display(path), sha256, line, raw, reason))
    _upsert_method(conn, name, sha256)
    return SystemLoad(name, _display(path), "loaded", rows_read, len(outputs), len(rejected),
                      _reasons([reason for _, _, reason in rejected]))


def _upsert_method(conn: psycopg.Connection, name: str, sha256: str) -> None:
    """The method `system:NAME`; its old translations, scores and links go: other outputs made them."""
    generation = json.dumps({"system": name, "file_sha256": sha256})
    method_id = conn.execute(
        "insert into llm.translation_method (name, description, kind, generation_config) "
        "values (%s, %s, %s, %s::jsonb) on conflict (name) do update set generation_config = excluded.generation_config "
        "returning id",
        (method_name(name), f"external system: {DIRECTORY}/{name}", KIND, generation),
    ).fetchone()[0]
    _drop_derived(conn, method_id)


def _drop_derived(conn: psycopg.Connection, method_id: int) -> None:
    for table in ("evaluation", "translation", "translation_execution_models"):
        conn.execute(f"delete from llm.{table} where translation_method_id = %s", (method_id,))


def _remove_missing(conn: psycopg.Connection, present: set[str]) -> list[SystemLoad]:
    removed: list[SystemLoad] = []
    with conn.transaction():
        gone = conn.execute(
            "select sf.id, sf.name, sf.source_file, m.id from llm.system_file sf "
            "left join llm.translation_method m on m.name = %s || sf.name and m.kind = %s "
            "where sf.name <> all(%s) order by sf.name",
            (f"{KIND}:", KIND, sorted(present)),
        ).fetchall()
        for system_id, name, source_file, method_id in gone:
            if method_id is not None:
                _drop_derived(conn, method_id)
                conn.execute("delete from llm.translation_method where id = %s", (method_id,))
            conn.execute("delete from llm.system_file where id = %s", (system_id,))  # cascades outputs, rejections
            removed.append(SystemLoad(name, source_file, "removed"))
    return removed


def _link(conn: psycopg.Connection, execution_id: int, method_id: int, config_id: int) -> None:
    conn.execute(
        "insert into llm.translation_execution_models (translation_execution_id, translation_method_id) "
        "values (%s, %s) on conflict on constraint translation_execution_models_key do nothing",
        (execution_id, method_id),
    )
    conn.execute(
        "insert into llm.translation (translation_method_id, tuning_dataset_distribution_id, "
        "translation_execution_id, translated_text, sanitized) "
        "select m.id, td.id, %(execution)s, so.translated_text, so.sanitized "
        "from llm.translation_method m "
        "join llm.system_file sf on m.name = %(prefix)s || sf.name "
        "join llm.system_output so on so.system_file_id = sf.id "
        "join llm.tuning_dataset_distribution td on td.dataset_record_id = so.dataset_id "
        "  and td.tuning_config_id = %(config)s and td.split = 'test' "
        "where m.id = %(method)s "
        "on conflict on constraint translation_method_row_key do nothing",
        {"execution": execution_id, "prefix": f"{KIND}:", "config": config_id, "method": method_id},
    )


def _unlink(conn: psycopg.Connection, execution_id: int, method_id: int) -> None:
    for table in ("evaluation", "translation"):
        conn.execute(
            f"delete from llm.{table} where translation_execution_id = %s and translation_method_id = %s",
            (execution_id, method_id),
        )
    conn.execute(
        "delete from llm.translation_execution_models where translation_execution_id = %s "
        "and translation_method_id = %s",
        (execution_id, method_id),
    )
