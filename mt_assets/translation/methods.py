"""Translation methods and executions in PostgreSQL (psycopg 3).

Per tuning config `C`:
- `C:base` (kind base): the config's model as it is; zero-shot for seq2seq models, a k-shot
  prompt (k = llm_tuning_configs.generation.few_shot, examples from the train split) for
  decoder LLMs;
- `C:fine-tuned` (kind fine_tuned): the newest succeeded model trained with the config's current
  model settings (same model_sha256: a generation-only edit keeps the model), when there is one;
  with `replicates: N`, also `C:fine-tuned-r2` ... `C:fine-tuned-rN`, replicate k's newest model.
  It must be bound to the config's current split (its split_sha256 equals llm.split_sha256 of
  the stored train/validation rows); a model of another split is refused with the command that
  retrains it, since its training rows may be test rows now;
- the floors `baseline:copy-source`, `baseline:translation-memory`, `baseline:constant` (kind
  baseline, `translation/baselines.py`): one global method each (no config, no model), their
  outputs for C's test rows drawn from C's own train rows;
- the execution `C`, linking them all, translating C's test split.

The generation settings are stored with each method. A method whose definition changed (a
new fine-tuned model, other beams, another prompt) loses its old translations and scores:
they were produced by something else, and resuming on top of them would mix two systems.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import psycopg

from mt_assets.translation import baselines, store
from mt_assets.translation.errors import TranslationError
from mt_assets.tuning import models
from mt_assets.tuning import store as tuning_store
from mt_assets.tuning.store import StoredConfig

BASE, FINE_TUNED = "base", "fine_tuned"
BASELINE = baselines.BASELINE
_SUFFIX = {BASE: "base", FINE_TUNED: "fine-tuned"}


def method_name(config: str, kind: str, replicate: int = 1) -> str:
    """`C:base`, `C:fine-tuned`, and `C:fine-tuned-rK` for fine-tuned replicate K > 1."""
    name = f"{config}:{_SUFFIX[kind]}"
    return name if replicate == 1 else f"{name}-r{replicate}"


@dataclass(frozen=True)
class FineTunedModel:
    id: int
    artefact_dir: str
    llm_model: str
    artefact_sha256: str | None
    split_sha256: str | None  # the train/validation rows it was trained on


@dataclass(frozen=True)
class Method:
    id: int
    name: str
    kind: str
    config: StoredConfig  # the config whose test rows it translates (a baseline's: the execution's)
    generation: dict[str, Any]
    model: FineTunedModel | None  # the fine_tuned method's model


@dataclass(frozen=True)
class Execution:
    id: int
    name: str
    methods: tuple[Method, ...]
    rows_config_id: int  # whose test rows its methods translate (llm.translation_execution.tuning_config_id)
    invalidated: tuple[str, ...] = ()  # methods whose old translations were dropped now


def load_config(conn: psycopg.Connection, name: str) -> StoredConfig:
    """The config, validated (`tuning.store.read`, in the connection's transaction), or a
    TranslationError saying why not."""
    try:
        config = tuning_store.read(conn, name)
    except tuning_store.InvalidStoredConfig as err:
        raise TranslationError(str(err)) from None
    if config is None:
        raise TranslationError(
            f"no tuning config named {name!r} in llm.tuning_configs; materialize tuning_configs"
        )
    return config


def _task(config: StoredConfig) -> str:
    return models.describe(config.llm_model, config.config.llm_tuning_configs.task).kind


def newest_model(conn: psycopg.Connection, config: StoredConfig, replicate: int = 1) -> FineTunedModel | None:
    """The newest succeeded model of `replicate` trained with the config's current model settings.
    A model registered before migration 0009 has no model hash; its config hash must match instead."""
    row = conn.execute(
        "select id, pretrained_model_dir_path, coalesce(llm_model, %(llm_model)s), artefact_sha256, split_sha256 "
        "from llm.fine_tuned_models where tuning_config_id = %(id)s and status = 'succeeded' "
        "and replicate = %(replicate)s "
        "and pretrained_model_dir_path is not null and case "
        "  when model_sha256 is not null then model_sha256 = %(model)s "
        "  else config_sha256 is null or config_sha256 = %(config)s end "
        "order by id desc limit 1",
        {
            "llm_model": config.llm_model,
            "id": config.id,
            "model": config.model_sha256,
            "config": config.config_sha256,
            "replicate": replicate,
        },
    ).fetchone()
    return FineTunedModel(*row) if row else None


def check_split(config: StoredConfig, model: FineTunedModel) -> None:
    """Refuse a model trained on other train/validation rows than the config's stored split:
    after a re-split (a new edition version, other data settings) its training rows can be
    test rows, and its scores would be inflated."""
    if model.split_sha256 == config.split_sha256:
        return
    seen = f"split {model.split_sha256[:12]}" if model.split_sha256 else "a split it did not record"
    raise TranslationError(
        f"{method_name(config.name, FINE_TUNED)}: fine_tuned_models.id {model.id} was trained on {seen}, "
        f"but tuning config {config.name!r} now has split {(config.split_sha256 or 'none')[:12]} "
        "(llm.split_sha256 of its train/validation rows: a new edition version or other data settings "
        "re-split it), so some of its training rows may be test rows now. Retrain it: materialize "
        f"fine_tuned_model for partition {config.name!r} (dagster asset materialize -m mt_assets "
        f"--select fine_tuned_model --partition {config.name}), then translations again"
    )


def generation_config(config: StoredConfig, kind: str, multiline_references: bool) -> dict[str, Any]:
    """The method's stored definition. `multiline_references` (a reference of the config's data
    contains a newline, `store.references_span_lines`) decides the stop rule: a decoder LLM stops at
    the first newline only where no reference has one, else only at EOS or the token cap; a changed
    rule changes the definition, so translations cut by the old one are dropped and redone."""
    settings = config.config.llm_tuning_configs
    gen = settings.generation
    task = _task(config)
    out: dict[str, Any] = {
        "task": task,
        "num_beams": gen.num_beams,
        "max_new_tokens": gen.max_new_tokens,
        "do_sample": False,
    }
    # Only when set: a config without it keeps its methods' definitions (and their translations).
    if gen.max_new_tokens_per_source_token is not None:
        out["max_new_tokens_per_source_token"] = gen.max_new_tokens_per_source_token
    # Precision changes outputs, so it is part of the definition; `auto` is left out so methods
    # defined before it keep their definitions (and translations).
    if settings.precision != "auto":
        out["precision"] = settings.precision
    if task == "causal":
        out["stop"] = ["eos"] if multiline_references else ["newline", "eos"]
        out["prompt_template"] = config.config.training_prompt_template
        # The fine-tuned model learned the zero-shot prompt; only the untuned base needs examples.
        out["few_shot"] = gen.few_shot if kind == BASE else 0
    else:
        out["stop"] = ["eos"]
        out["languages"] = settings.languages.model_dump() if settings.languages else None
    return out


def _upsert_method(
    conn: psycopg.Connection,
    name: str,
    kind: str,
    config_id: int | None,
    llm_model: str | None,
    model_id: int | None,
    generation: dict[str, Any],
    description: str,
) -> tuple[int, bool]:
    """(method id, whether an existing definition changed and its outputs were dropped)."""
    existing = conn.execute(
        "select id, kind, llm_model, fine_tuned_models_id, generation_config, tuning_config_id "
        "from llm.translation_method where name = %s for update",
        (name,),
    ).fetchone()
    if existing is None:
        method_id = conn.execute(
            "insert into llm.translation_method "
            "(name, description, llm_model, fine_tuned_models_id, tuning_config_id, kind, generation_config) "
            "values (%s, %s, %s, %s, %s, %s, %s::jsonb) returning id",
            (name, description, llm_model, model_id, config_id, kind, json.dumps(generation)),
        ).fetchone()[0]
        return method_id, False
    method_id = existing[0]
    if tuple(existing[1:]) == (kind, llm_model, model_id, generation, config_id):
        return method_id, False
    conn.execute(
        "update llm.translation_method set kind = %s, llm_model = %s, fine_tuned_models_id = %s, "
        "generation_config = %s::jsonb, tuning_config_id = %s where id = %s",
        (kind, llm_model, model_id, json.dumps(generation), config_id, method_id),
    )
    dropped = _drop_outputs(conn, method_id)
    return method_id, dropped


def _drop_outputs(conn: psycopg.Connection, method_id: int) -> bool:
    scores = conn.execute(
        "delete from llm.evaluation where translation_method_id = %s", (method_id,)
    ).rowcount
    rows = conn.execute("delete from llm.translation where translation_method_id = %s", (method_id,)).rowcount
    # no outputs, no precision they were computed in (translation/run.py records the next run's)
    conn.execute("update llm.translation_method set precision = null where id = %s", (method_id,))
    return bool(scores or rows)


def _drop_stale_fine_tuned(conn: psycopg.Connection, config: StoredConfig, kept: list[int]) -> list[str]:
    """Drop the outputs of the config's fine-tuned methods that have no model now (it is gone or
    from an older config version, or a replicate beyond `replicates`); returns those that had any."""
    stale = conn.execute(
        "select id, name from llm.translation_method where tuning_config_id = %s and kind = 'fine_tuned' "
        "and id <> all(%s) order by name",
        (config.id, kept),
    ).fetchall()
    return [name for method_id, name in stale if _drop_outputs(conn, method_id)]


def upsert_execution(conn: psycopg.Connection, name: str, description: str, config_id: int | None) -> int:
    return conn.execute(
        "insert into llm.translation_execution (name, description, tuning_config_id) values (%s, %s, %s) "
        "on conflict (name) do update set description = excluded.description, "
        "tuning_config_id = excluded.tuning_config_id returning id",
        (name, description, config_id),
    ).fetchone()[0]


def link(conn: psycopg.Connection, execution_id: int, method_ids: list[int]) -> None:
    """The execution's methods are exactly these, besides the external systems (`systems.py`
    links those that cover its rows); a method dropped from it takes its translations in this
    execution and its scores there along."""
    gone = [
        r[0]
        for r in conn.execute(
            "delete from llm.translation_execution_models x using llm.translation_method m "
            "where m.id = x.translation_method_id and m.kind <> 'system' and x.translation_execution_id = %s "
            "and x.translation_method_id <> all(%s) returning x.translation_method_id",
            (execution_id, method_ids),
        ).fetchall()
    ]
    if gone:
        conn.execute(
            "delete from llm.evaluation where translation_execution_id = %s and translation_method_id = any(%s)",
            (execution_id, gone),
        )
        conn.execute(
            "delete from llm.translation where translation_execution_id = %s and translation_method_id = any(%s)",
            (execution_id, gone),
        )
    for method_id in method_ids:
        conn.execute(
            "insert into llm.translation_execution_models (translation_execution_id, translation_method_id) "
            "values (%s, %s) on conflict on constraint translation_execution_models_key do nothing",
            (execution_id, method_id),
        )


@dataclass(frozen=True)
class Floor:
    id: int
    name: str
    definition: dict[str, Any]
    changed: bool  # its definition changed now, and its old outputs were dropped


def ensure_floors(conn: psycopg.Connection) -> list[Floor]:
    """Upsert the floors' global methods (no config, no model), in `baselines.definitions` order."""
    floors = []
    for name, definition in baselines.definitions().items():
        floor_id, changed = _upsert_method(
            conn, name, BASELINE, None, None, None, definition, baselines.DESCRIPTIONS[name]
        )
        floors.append(Floor(floor_id, name, definition, changed))
    return floors


def ensure_config_execution(conn: psycopg.Connection, config_name: str) -> Execution:
    """Upsert the config's methods and its execution, in one transaction."""
    with conn.transaction():
        config = load_config(conn, config_name)
        multiline = store.references_span_lines(conn, config.id)
        methods: list[Method] = []
        invalidated: list[str] = []
        base_generation = generation_config(config, BASE, multiline)
        base_id, changed = _upsert_method(
            conn, method_name(config.name, BASE), BASE, config.id, config.llm_model, None, base_generation,
            f"{config.name}: base model",
        )
        methods.append(Method(base_id, method_name(config.name, BASE), BASE, config, base_generation, None))
        if changed:
            invalidated.append(method_name(config.name, BASE))
        for replicate in range(1, config.config.replicates + 1):
            model = newest_model(conn, config, replicate)
            if model is None:
                continue
            check_split(config, model)  # raising rolls back: nothing registered, nothing dropped
            tuned_name = method_name(config.name, FINE_TUNED, replicate)
            tuned_generation = generation_config(config, FINE_TUNED, multiline)
            tuned_id, changed = _upsert_method(
                conn, tuned_name, FINE_TUNED, config.id, model.llm_model, model.id, tuned_generation,
                f"{config.name}: fine-tuned model" + (f", replicate {replicate}" if replicate > 1 else ""),
            )
            methods.append(Method(tuned_id, tuned_name, FINE_TUNED, config, tuned_generation, model))
            if changed:
                invalidated.append(tuned_name)
        invalidated += _drop_stale_fine_tuned(conn, config, [m.id for m in methods])
        for floor in ensure_floors(conn):
            methods.append(Method(floor.id, floor.name, BASELINE, config, floor.definition, None))
            if floor.changed:
                invalidated.append(floor.name)
        execution_id = upsert_execution(
            conn, config.name, f"{config.name}: its methods on its test split", config.id
        )
        link(conn, execution_id, [m.id for m in methods])
    return Execution(execution_id, config.name, tuple(methods), config.id, tuple(invalidated))


def load_execution(conn: psycopg.Connection, execution_id: int) -> Execution:
    """A registered execution with its linked model methods and floors as stored (a user
    execution's: registered by `executions.ensure_user_execution`). A fine-tuned method must
    still be bound to its config's split (`check_split`)."""
    name, rows_config_id = conn.execute(
        "select name, tuning_config_id from llm.translation_execution where id = %s", (execution_id,)
    ).fetchone()
    rows_config = conn.execute("select name from llm.tuning_configs where id = %s", (rows_config_id,)).fetchone()
    if rows_config is None:
        raise TranslationError(f"execution {name!r} names no rows config; register it again")
    found = conn.execute(
        "select m.id, m.name, m.kind, c.name, m.generation_config, f.id, f.pretrained_model_dir_path, "
        "coalesce(f.llm_model, m.llm_model), f.artefact_sha256, f.split_sha256 "
        "from llm.translation_execution_models x join llm.translation_method m on m.id = x.translation_method_id "
        "left join llm.tuning_configs c on c.id = m.tuning_config_id "
        "left join llm.fine_tuned_models f on f.id = m.fine_tuned_models_id "
        "where x.translation_execution_id = %s and m.kind <> 'system' "
        "order by m.kind = 'baseline', m.name",
        (execution_id,),
    ).fetchall()
    rows = load_config(conn, rows_config[0])
    methods = []
    for method_id, method, kind, config_name, generation, model_id, artefact, llm_model, sha, split in found:
        config = rows if config_name is None else load_config(conn, config_name)
        model = FineTunedModel(model_id, artefact, llm_model, sha, split) if model_id is not None else None
        if model is not None:
            check_split(config, model)
        methods.append(Method(method_id, method, kind, config, generation, model))
    return Execution(execution_id, name, tuple(methods), rows_config_id)


def test_row_count(conn: psycopg.Connection, config_id: int) -> int:
    return conn.execute(
        "select count(*) from llm.tuning_dataset_distribution where tuning_config_id = %s and split = 'test'",
        (config_id,),
    ).fetchone()[0]
