"""What translation reads and writes in PostgreSQL (psycopg 3): the rows still to translate,
few-shot examples and the floors' train pairs from the train split, whether a reference spans lines (the stop rule), and the
outputs, sanitized (`translation.sanitize`) and inserted as they arrive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from mt_assets.models import jsonl
from mt_assets.translation.baselines import TrainPair
from mt_assets.translation.sanitize import sanitize

_ROW_COLUMNS = """
    td.id as tuning_dataset_distribution_id, d.id as dataset_id, d.source_text, d.official_translate,
    d.source_language, d.target_language, d.source_reference, d.source_paragraph, e.name as edition
"""

_PENDING = f"""
select {_ROW_COLUMNS}
from llm.tuning_dataset_distribution td
join llm.dataset d on d.id = td.dataset_record_id
join llm.dataset_editions e on e.id = d.edition_id
where td.tuning_config_id = %s and td.split = 'test'
  and not exists (
    select 1 from llm.translation t
    where t.translation_method_id = %s and t.tuning_dataset_distribution_id = td.id)
order by d.id
"""

# Few-shot examples: among the train rows no longer than the median source, the first k in
# md5(dataset id) order. Deterministic (same rows every run, same rows for every config
# with the same train split), spread over the data rather than its start, and short enough
# to keep the k-shot prompt cheap.
_FEW_SHOT = f"""
with train as (
    select {_ROW_COLUMNS}, length(d.source_text) as chars
    from llm.tuning_dataset_distribution td
    join llm.dataset d on d.id = td.dataset_record_id
    join llm.dataset_editions e on e.id = d.edition_id
    where td.tuning_config_id = %(config)s and td.split = 'train'
)
select * from train
where chars <= (select percentile_disc(0.5) within group (order by chars) from train)
order by md5(dataset_id::text), dataset_id
limit %(k)s
"""

_TRAIN_PAIRS = """
select d.id, d.source_language, d.source_text, d.official_translate
from llm.tuning_dataset_distribution td
join llm.dataset d on d.id = td.dataset_record_id
where td.tuning_config_id = %s and td.split = 'train'
order by d.id
"""

_INSERT = """
insert into llm.translation
    (translation_method_id, tuning_dataset_distribution_id, translation_execution_id, translated_text,
     sanitized, latency_ms, match_score)
values (%s, %s, %s, %s, %s, %s, %s)
on conflict on constraint translation_method_row_key do nothing
returning sanitized is not null
"""


def _dicts(cursor: psycopg.Cursor) -> list[dict[str, Any]]:
    names = [c.name for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def pending_rows(conn: psycopg.Connection, config_id: int, method_id: int) -> list[dict[str, Any]]:
    """The config's test rows the method has not translated yet, with their template variables."""
    return _dicts(conn.execute(_PENDING, (config_id, method_id)))


def few_shot_examples(conn: psycopg.Connection, config_id: int, k: int) -> list[dict[str, Any]]:
    if k <= 0:
        return []
    rows = _dicts(conn.execute(_FEW_SHOT, {"config": config_id, "k": k}))
    return [{key: value for key, value in row.items() if key != "chars"} for row in rows]


def train_pairs(conn: psycopg.Connection, config_id: int) -> list[TrainPair]:
    """The config's train rows, what the floors draw their outputs from."""
    return [TrainPair(*row) for row in conn.execute(_TRAIN_PAIRS, (config_id,)).fetchall()]


def references_span_lines(conn: psycopg.Connection, config_id: int) -> bool:
    """Whether a reference of the config's data (its train, validation or test rows) contains a
    newline: then a translation may too, and decoding must not stop at the first one."""
    return conn.execute(
        "select exists (select 1 from llm.tuning_dataset_distribution td "
        "join llm.dataset d on d.id = td.dataset_record_id "
        "where td.tuning_config_id = %s and strpos(d.official_translate, E'\\n') > 0)",
        (config_id,),
    ).fetchone()[0]


def write_input(rows: list[dict[str, Any]], path: Path) -> Path:
    """The job's input JSONL (without references: the translating process never sees them)."""
    return jsonl.write_rows(({k: v for k, v in row.items() if k != "official_translate"} for row in rows), path)


class TranslationWriter:
    """Buffers translation events and inserts them in small committed batches, so an
    interrupted run keeps what it translated and the next one resumes after it. Every text
    passes `sanitize` first, whichever launcher produced it: this is the one place translations
    are stored."""

    def __init__(self, conn: psycopg.Connection, method_id: int, execution_id: int, batch: int = 16) -> None:
        self._conn = conn
        self._method_id = method_id
        self._execution_id = execution_id
        self._batch = batch
        self._buffer: list[tuple] = []
        self.written = 0
        self.sanitized = 0  # of the rows written, those whose text `sanitize` changed

    def add(self, event: dict[str, Any]) -> None:
        text, changes = sanitize(event["translated_text"])
        self._buffer.append(
            (
                self._method_id,
                event["tuning_dataset_distribution_id"],
                self._execution_id,
                text,
                changes,
                event.get("latency_ms"),
                event.get("match_score"),  # baseline:translation-memory only
            )
        )
        if len(self._buffer) >= self._batch:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        inserted: list[bool] = []  # one per row inserted; a row stored meanwhile by another run is skipped
        with self._conn.transaction(), self._conn.cursor() as cur:
            cur.executemany(_INSERT, self._buffer, returning=True)
            while True:
                inserted.extend(row[0] for row in cur.fetchall())
                if not cur.nextset():
                    break
        self.written += len(inserted)
        self.sanitized += sum(inserted)
        self._buffer = []
