"""llm.tuning_configs: one row per config name.

A row is written only when something in it differs, so an unchanged file leaves the row
(and its updated_at) alone. Rows are never deleted: a removed file's config and everything
computed from it stay in the database as history.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row

from mt_assets.tuning import libraries
from mt_assets.tuning.config import LoadedConfig, TuningConfig, validate_mapping

Status = Literal["new", "changed", "updated", "unchanged"]

_COLUMNS = (
    "description",
    "llm_model",
    "tuning_methodology",
    "training_prompt_template",
    "llm_tuning_configs",
    "data",
    "replicates",
    "config_sha256",
    "model_sha256",
    "generation_sha256",
    "source_file",
    "libraries_checked",
)

_UPSERT = f"""
    insert into llm.tuning_configs as t ({", ".join(_COLUMNS)}, name)
    values (%(description)s, %(llm_model)s, %(tuning_methodology)s, %(training_prompt_template)s,
            cast(%(llm_tuning_configs)s as jsonb), cast(%(data)s as jsonb), %(replicates)s, %(config_sha256)s, %(model_sha256)s,
            %(generation_sha256)s, %(source_file)s, cast(%(libraries_checked)s as jsonb), %(name)s)
    on conflict (name) do update
       set {", ".join(f"{c} = excluded.{c}" for c in _COLUMNS)}, updated_at = now()
     where ({", ".join(f"t.{c}" for c in _COLUMNS)}) is distinct from ({", ".join(f"excluded.{c}" for c in _COLUMNS)})
    returning t.id
    """


@dataclass(frozen=True)
class UpsertOutcome:
    name: str
    source: str
    status: Status  # changed = the config hash changed, so results computed from it are stale
    config_sha256: str
    # changed, and not only its generation settings: fine_tuned_model trains again (a
    # generation-only edit keeps the model and redoes translations and scores)
    model_changed: bool


def _params(item: LoadedConfig) -> dict[str, object]:
    cfg = item.config
    dumped = cfg.model_dump(mode="json")
    checked = item.libraries_checked
    return {
        "name": cfg.name,
        "description": cfg.description,
        "llm_model": cfg.llm_model,
        "tuning_methodology": cfg.tuning_methodology,
        "training_prompt_template": cfg.training_prompt_template,
        "llm_tuning_configs": json.dumps(dumped["llm_tuning_configs"], sort_keys=True),
        "data": json.dumps(dumped["data"], sort_keys=True),
        "replicates": cfg.replicates,
        "config_sha256": cfg.sha256,
        "model_sha256": cfg.model_sha256,
        "generation_sha256": cfg.generation_sha256,
        "source_file": str(item.path or item.source),
        # what it passed the library check against, so that reading it need not check again
        "libraries_checked": json.dumps(dict(checked), sort_keys=True) if checked is not None else None,
    }


def upsert(conn: psycopg.Connection, loaded: Iterable[LoadedConfig]) -> list[UpsertOutcome]:
    """Write the valid configs in one transaction; returns one outcome per config, in input order."""
    valid = [item for item in loaded if item.ok]
    outcomes = []
    with conn.transaction():
        previous = {
            name: (config_sha, model_sha)
            for name, config_sha, model_sha in conn.execute(
                "select name, config_sha256, model_sha256 from llm.tuning_configs where name = any(%s)",
                ([item.config.name for item in valid],),
            ).fetchall()
        }
        for item in valid:
            cfg = item.config
            written = conn.execute(_UPSERT, _params(item)).fetchone() is not None
            config_sha, model_sha = previous.get(cfg.name, (None, None))
            if cfg.name not in previous:
                status: Status = "new"
            elif config_sha != cfg.sha256:
                status = "changed"
            else:
                status = "updated" if written else "unchanged"
            # A row from before migration 0009 has no model hash: its config hash decides.
            model_changed = status == "changed" and model_sha != cfg.model_sha256
            outcomes.append(UpsertOutcome(cfg.name, item.source, status, cfg.sha256, model_changed))
    return outcomes


def names(conn: psycopg.Connection) -> list[str]:
    return [name for (name,) in conn.execute("select name from llm.tuning_configs order by name")]


def hashes(conn: psycopg.Connection) -> dict[str, str]:
    """name -> config_sha256 of every stored config that has one."""
    rows = conn.execute("select name, config_sha256 from llm.tuning_configs").fetchall()
    return {name: sha for name, sha in rows if sha}


class InvalidStoredConfig(ValueError):
    """A stored row that fails the checks a config file gets; the message lists every problem."""

    def __init__(self, errors: tuple[str, ...]) -> None:
        super().__init__("invalid tuning config:\n" + "\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class StoredConfig:
    """A row of llm.tuning_configs, validated like a file: what every step reads a config as."""

    id: int
    config: TuningConfig
    config_sha256: str  # as stored; the validated config's own for a row inserted with SQL without one
    # As stored; config_sha256 for a row without one (inserted with SQL, or from before migration
    # 0009), so that any change to the config then counts as a model change.
    model_sha256: str
    generation_sha256: str  # as stored; the validated config's own for a row without one
    split_sha256: str | None  # llm.split_sha256(id) when read: its stored train/validation rows
    warnings: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def llm_model(self) -> str:
        return self.config.llm_model


_READ = (
    "select id, name, description, llm_model, tuning_methodology, training_prompt_template, data,"
    " llm_tuning_configs, replicates, config_sha256, model_sha256, generation_sha256, libraries_checked,"
    " llm.split_sha256(id) as split_sha256"
    " from llm.tuning_configs where name = %(name)s"
)
_CONFIG_KEYS = (
    "name",
    "description",
    "llm_model",
    "tuning_methodology",
    "training_prompt_template",
    "data",
    "llm_tuning_configs",
    "replicates",
)


def _row(conn: psycopg.Connection, name: str) -> Mapping[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(_READ, {"name": name}).fetchone()


def read(conn: psycopg.Connection, name: str) -> StoredConfig | None:
    """The config named `name`, or None when there is no such row. The row is validated as a
    file is, so a row inserted with SQL gets the same checks; one that fails them raises
    InvalidStoredConfig. Read in the connection's transaction, if one is open.

    The library check (`libraries.problems`, which imports transformers, peft and torch) is not
    redone for a row `upsert` recorded as passed against the installed versions (migration 0013),
    as long as its config_sha256 matches its content; a row inserted with SQL, edited with SQL, or
    recorded under other versions is checked in full."""
    row = _row(conn, name)
    if row is None:
        return None
    raw = {k: row[k] for k in _CONFIG_KEYS if row[k] is not None}
    recorded = row["libraries_checked"]
    loaded = validate_mapping(
        raw,
        f"llm.tuning_configs[name={name}]",
        libraries_checked_sha256=row["config_sha256"]
        if recorded is not None and recorded == libraries.versions()
        else None,
    )
    if not loaded.ok:
        raise InvalidStoredConfig(loaded.errors)
    cfg = loaded.config
    config_sha = row["config_sha256"] or cfg.sha256
    return StoredConfig(
        id=row["id"],
        config=cfg,
        config_sha256=config_sha,
        model_sha256=row["model_sha256"] or config_sha,
        generation_sha256=row["generation_sha256"] or cfg.generation_sha256,
        split_sha256=row["split_sha256"],
        warnings=loaded.warnings,
    )
