"""llm.tuning_dataset_distribution: select a config's rows, split them, store the split,
and inspect a stored split (the asset checks).

Storage keeps row ids stable: when the computed split equals the stored one nothing is
rewritten (only `config_sha256` is brought up to date when another part of the config
changed). A different split replaces the config's rows in one transaction and never
touches other configs. Translations reference split rows, so a config whose split changed
after translations were made is refused: give the changed config a new name (a new
experiment) and the old results stay valid history.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from typing import Literal

import psycopg
from psycopg.rows import namedtuple_row

from mt_assets.tuning import splits, store
from mt_assets.tuning.config import DataConfig, TuningConfig
from mt_assets.tuning.splits import Row, Split


class DistributionError(Exception):
    """A config cannot be split as asked; the message says why and what to do."""


# The newest version of each edition is the view's (llm.current_dataset_editions: the highest
# version that has rows), nowhere else.
_SELECT = """
    select d.id, e.name as edition, d.source_reference, d.source_language, d.source_text
      from llm.dataset d
      join llm.current_dataset_editions e on e.id = d.edition_id
     where e.name = any(%(editions)s)
       and d.is_enable
       and d.source_language = any(%(languages)s)
       and d.target_language = %(target)s
       and char_length(d.source_text) >= %(min_chars)s
       and (cast(%(max_chars)s as integer) is null or char_length(d.source_text) <= %(max_chars)s)
     order by d.id
    """

_STORED = """
    select t.dataset_record_id as dataset_id, t.split, t.config_sha256, e.name as edition, d.source_reference,
           d.source_language, d.source_text
      from llm.tuning_dataset_distribution t
      join llm.dataset d on d.id = t.dataset_record_id
      join llm.dataset_editions e on e.id = d.edition_id
     where t.tuning_config_id = %s
    """


def select_rows(conn: psycopg.Connection, data: DataConfig) -> list[Row]:
    """The enabled rows of the newest version of each edition, in the config's languages and bounds."""
    loaded = {
        name
        for (name,) in conn.execute(
            "select distinct name from llm.dataset_editions where name = any(%s)", (data.editions,)
        )
    }
    missing = [name for name in data.editions if name not in loaded]
    if missing:
        raise DistributionError(
            f"data.editions: edition(s) {', '.join(missing)} not loaded into llm.dataset_editions; "
            "materialize the dataset asset first or fix the names"
        )
    result = conn.cursor(row_factory=namedtuple_row).execute(
        _SELECT,
        {
            "editions": data.editions,
            "languages": data.source_languages,
            "target": data.target_language,
            "min_chars": data.min_source_chars or 0,
            "max_chars": data.max_source_chars,
        },
    )
    rows = [Row(r.id, r.edition, r.source_reference, r.source_language, r.source_text) for r in result]
    if not rows:
        raise DistributionError(
            f"the config selects no rows (editions {data.editions}, languages {data.source_languages}, "
            f"target {data.target_language!r}, length bounds); nothing to split"
        )
    return rows


def assign(cfg: TuningConfig, rows: list[Row]) -> dict[int, Split]:
    data = cfg.data
    return splits.assign(
        rows,
        test_size=data.test_size,
        validation_size=data.validation_size,
        seed=data.seed,
        max_train_rows=data.max_train_rows,
    )


@dataclass(frozen=True)
class CountRow:
    split: Split
    source_language: str
    edition: str
    rows: int


Outcome = Literal["new", "replaced", "rehashed", "unchanged"]


@dataclass(frozen=True)
class DistributionResult:
    config_id: int
    config_sha256: str
    outcome: Outcome
    counts: tuple[CountRow, ...]
    warnings: tuple[str, ...]
    model_sha256: str
    # of the (dataset_record_id, split) pairs of every split, test included (a model is bound
    # to the narrower llm.split_sha256: its train and validation pairs)
    assignment_sha256: str

    @property
    def data_version(self) -> str:
        """Changes when the split, the rows or a model setting of the config changes, so models
        trained from this partition become stale in Dagster; a generation-only edit does not
        (it re-translates, and never retrains)."""
        return f"{self.model_sha256[:16]}-{self.assignment_sha256[:16]}"


def _config(conn: psycopg.Connection, name: str) -> store.StoredConfig:
    try:
        stored = store.read(conn, name)
    except store.InvalidStoredConfig as err:
        raise DistributionError(str(err)) from None
    if stored is None:
        raise DistributionError(
            f"no tuning config named {name!r} in llm.tuning_configs; materialize tuning_configs first"
        )
    return stored


def _count(rows: list[Row], assignment: dict[int, Split]) -> tuple[CountRow, ...]:
    counts = Counter(
        (assignment[r.dataset_id], r.source_language, r.edition) for r in rows if r.dataset_id in assignment
    )
    order = {s: i for i, s in enumerate(splits.SPLITS)}
    keys = sorted(counts, key=lambda k: (order[k[0]], k[1], k[2]))
    return tuple(
        CountRow(split, language, edition, counts[(split, language, edition)])
        for split, language, edition in keys
    )


def materialize(conn: psycopg.Connection, name: str) -> DistributionResult:
    """Split the config's rows and store the split, in one transaction."""
    stored = _config(conn, name)
    cfg = stored.config
    sha = cfg.sha256
    with conn.transaction():
        # Serialise runs of the same partition; other configs' rows are never locked.
        conn.execute("select id from llm.tuning_configs where id = %s for update", (stored.id,))
        rows = select_rows(conn, cfg.data)
        assignment = assign(cfg, rows)
        outcome = _write(conn, stored.id, name, sha, assignment)
    listing = "\n".join(f"{i}\t{assignment[i]}" for i in sorted(assignment))
    return DistributionResult(
        stored.id,
        sha,
        outcome,
        _count(rows, assignment),
        stored.warnings,
        cfg.model_sha256,
        hashlib.sha256(listing.encode()).hexdigest(),
    )


def _write(
    conn: psycopg.Connection, config_id: int, name: str, sha: str, assignment: dict[int, Split]
) -> Outcome:
    current = (
        conn.cursor(row_factory=namedtuple_row)
        .execute(
            "select dataset_record_id as dataset_id, split, config_sha256 from llm.tuning_dataset_distribution"
            " where tuning_config_id = %s",
            (config_id,),
        )
        .fetchall()
    )
    if current and {r.dataset_id: r.split for r in current} == assignment:
        if all(r.config_sha256 == sha for r in current):
            return "unchanged"
        conn.execute(
            "update llm.tuning_dataset_distribution set config_sha256 = %s where tuning_config_id = %s",
            (sha, config_id),
        )
        return "rehashed"
    if current:
        (translated,) = conn.execute(
            "select count(*) from llm.translation tr join llm.tuning_dataset_distribution t"
            " on t.id = tr.tuning_dataset_distribution_id where t.tuning_config_id = %s",
            (config_id,),
        ).fetchone()
        if translated:
            raise DistributionError(
                f"tuning config {name!r} now gives a different split (its data settings or the selected dataset "
                f"rows changed), but {translated} translation(s) reference its current split rows; they are kept "
                "as history. Save the config under a new name (a new experiment), or restore the old data settings"
            )
        conn.execute("delete from llm.tuning_dataset_distribution where tuning_config_id = %s", (config_id,))
    ids = sorted(assignment)
    conn.execute(
        "insert into llm.tuning_dataset_distribution (tuning_config_id, dataset_record_id, split, config_sha256)"
        " select %(id)s, unnest(cast(%(ids)s as bigint[])), unnest(cast(%(splits)s as text[])), %(sha)s",
        {"id": config_id, "ids": ids, "splits": [assignment[i] for i in ids], "sha": sha},
    )
    return "replaced" if current else "new"


@dataclass(frozen=True)
class Inspection:
    """A stored split next to what the current config and data ask for."""

    config: TuningConfig
    selected: list[Row]
    expected: dict[int, Split]
    stored_rows: list[Row]
    stored: dict[int, Split]
    stored_sha256: frozenset[str | None]


def inspect(conn: psycopg.Connection, name: str) -> Inspection:
    stored_config = _config(conn, name)
    cfg = stored_config.config
    selected = select_rows(conn, cfg.data)
    result = conn.cursor(row_factory=namedtuple_row).execute(_STORED, (stored_config.id,)).fetchall()
    stored_rows = [
        Row(r.dataset_id, r.edition, r.source_reference, r.source_language, r.source_text) for r in result
    ]
    return Inspection(
        config=cfg,
        selected=selected,
        expected=assign(cfg, selected),
        stored_rows=stored_rows,
        stored={r.dataset_id: r.split for r in result},
        stored_sha256=frozenset(r.config_sha256 for r in result),
    )


def leaked_test_texts(ins: Inspection) -> dict[str, set[Split]]:
    """Normalised texts stored both in test and in another split."""
    overlaps = splits.overlapping_texts(ins.stored_rows, ins.stored)
    return {t: s for t, s in overlaps.items() if "test" in s}


@dataclass(frozen=True)
class SizeDeviation:
    source_language: str
    edition: str
    split: Split
    requested: int
    stored: int


def size_deviations(ins: Inspection) -> list[SizeDeviation]:
    """Strata whose stored test/validation counts differ from the request by more than one row."""
    data = ins.config.data
    limits = splits.quotas(ins.selected, data.test_size, data.validation_size)
    stored = Counter((r.stratum, ins.stored[r.dataset_id]) for r in ins.stored_rows)
    out = []
    for stratum, quota in limits.items():
        for split in ("test", "validation"):
            requested = getattr(quota, split)
            if abs(stored[(stratum, split)] - requested) > 1:
                out.append(SizeDeviation(stratum[0], stratum[1], split, requested, stored[(stratum, split)]))
    return out


@dataclass(frozen=True)
class Coverage:
    missing: int  # selected rows with no split row
    extra: int  # split rows the config no longer selects
    moved: int  # rows stored in another split than the split function gives

    @property
    def exact(self) -> bool:
        return not (self.missing or self.extra or self.moved)


def coverage(ins: Inspection) -> Coverage:
    expected, stored = ins.expected, ins.stored
    return Coverage(
        missing=len(expected.keys() - stored.keys()),
        extra=len(stored.keys() - expected.keys()),
        moved=sum(1 for i in expected.keys() & stored.keys() if expected[i] != stored[i]),
    )
