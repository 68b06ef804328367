"""The database side of training: read a tuning config, export its splits to JSONL,
register the model (`llm.fine_tuned_models`) and its step logs (`llm.training_logs`)."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from mt_assets.models.artefacts import directory_sha256
from mt_assets.settings import Settings
from mt_assets.training.spec import DEFAULT_SEED, TRAIN_FILE, VALIDATION_FILE, TrainingJob, TrainingResult
from mt_assets.tuning import store
from mt_assets.tuning.store import StoredConfig

_EXPORT = """
    select tdd.id as tuning_dataset_distribution_id, d.id as dataset_id, d.source_text,
           d.official_translate, d.source_language, d.target_language, d.source_reference,
           d.source_paragraph, e.name as edition, tdd.split
    from llm.tuning_dataset_distribution tdd
    join llm.dataset d on d.id = tdd.dataset_record_id
    join llm.dataset_editions e on e.id = d.edition_id
    where tdd.tuning_config_id = %s and tdd.split in ('train', 'validation')
    order by tdd.split, d.id
    """


class RegistryError(ValueError):
    pass


def _json(value: Any) -> str:
    """JSON PostgreSQL accepts: a diverged loss (NaN/inf) is stored as null, not as a number."""

    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(value))


def job_id(config: StoredConfig, data_sha256: str) -> str:
    """Same model settings and same rows, same job: its output dir, hence its checkpoints,
    survive a failed run, and a generation-only edit reuses its model; changed rows start a new
    job rather than resuming on different data."""
    key = hashlib.sha256(f"{config.model_sha256}:{data_sha256}".encode()).hexdigest()
    return f"{config.name}-{key[:12]}"


def data_sha256(directory: Path) -> str:
    digest = hashlib.sha256()
    for name in (TRAIN_FILE, VALIDATION_FILE):
        digest.update(name.encode() + b"\0" + (directory / name).read_bytes())
    return digest.hexdigest()


def load_config(conn: psycopg.Connection, name: str) -> StoredConfig:
    """The partition's config, validated (`tuning.store.read`), or a RegistryError saying why not."""
    try:
        config = store.read(conn, name)
    except store.InvalidStoredConfig as err:
        raise RegistryError(str(err)) from None
    if config is None:
        raise RegistryError(
            f"no tuning config named {name!r} in llm.tuning_configs; materialize tuning_configs"
        )
    return config


@dataclass(frozen=True)
class Export:
    counts: dict[str, int]  # rows per split
    split_sha256: str  # llm.split_sha256 of exactly the exported rows: the split the model is bound to


def export_splits(conn: psycopg.Connection, config: StoredConfig, directory: Path) -> Export:
    """train.jsonl and validation.jsonl under directory. `conn` has no transaction open (autocommit,
    or idle): the export is a transaction of its own."""
    directory.mkdir(parents=True, exist_ok=True)
    counts = {"train": 0, "validation": 0}
    paths = {split: directory / f"{split}.jsonl" for split in counts}
    handles = {
        split: (path.with_suffix(".jsonl.tmp")).open("w", encoding="utf-8") for split, path in paths.items()
    }
    try:
        # One snapshot for the hash and the rows: a re-split committed in between cannot bind
        # the model to rows it did not see.
        with conn.transaction():
            conn.execute("set transaction isolation level repeatable read")
            (split_sha,) = conn.execute("select llm.split_sha256(%s)", (config.id,)).fetchone()
            with conn.cursor(name="export_splits", row_factory=dict_row) as rows:  # server-side: streamed
                rows.itersize = 2000
                for record in rows.execute(_EXPORT, (config.id,)):
                    split = record.pop("split")
                    handles[split].write(json.dumps(record, ensure_ascii=False) + "\n")
                    counts[split] += 1
    finally:
        for handle in handles.values():
            handle.close()
    for path in paths.values():
        path.with_suffix(".jsonl.tmp").replace(path)
    if counts["train"] == 0:
        raise RegistryError(
            f"tuning config {config.name!r} has no train rows in llm.tuning_dataset_distribution; "
            "materialize tuning_dataset_distribution for this partition first"
        )
    return Export(counts, split_sha)


def replicate_seed(training_args: dict[str, Any], replicate: int) -> int:
    """Replicate k trains with the config's seed + k - 1: replicate 1 is the config as written."""
    return int(training_args.get("seed", DEFAULT_SEED)) + replicate - 1


def plan_job(
    config: StoredConfig, settings: Settings, counts: dict[str, int], work_dir: Path, job: str, replicate: int = 1
) -> TrainingJob:
    cfg = config.config
    tuning = cfg.llm_tuning_configs
    training_args = dict(tuning.training_args)
    if replicate > 1:  # replicate 1 keeps the args as written, hence its job and its checkpoints
        training_args["seed"] = replicate_seed(training_args, replicate)
    return TrainingJob(
        job_id=job,
        llm_model=cfg.llm_model,
        task=tuning.task,
        tuning_methodology=cfg.tuning_methodology,
        source_language_code=tuning.languages.source if tuning.languages else None,
        target_language_code=tuning.languages.target if tuning.languages else None,
        prompt_template=cfg.training_prompt_template,
        training_args=training_args,
        lora_config=dict(tuning.lora_config or {}),
        train_file=work_dir / TRAIN_FILE,
        validation_file=work_dir / VALIDATION_FILE if counts["validation"] else None,
        output_dir=settings.home / "adapters" / config.name / job,
        models_cache_dir=settings.models_dir,
        precision=tuning.precision,
    )


def replicate_job_id(job: str, replicate: int) -> str:
    """Replicate 1's job id is the config's (model settings + rows); replicate k's adds `-rK`."""
    return job if replicate == 1 else f"{job}-r{replicate}"


def prepare_jobs(
    conn: psycopg.Connection, config: StoredConfig, settings: Settings
) -> tuple[list[TrainingJob], Export]:
    """Export the splits once, then file them under each replicate's job (config + rows +
    replicate): one work directory per job, as a launcher writes its job file and log there."""
    config_dir = settings.home / "jobs" / config.name
    config_dir.mkdir(parents=True, exist_ok=True)
    export_dir = Path(tempfile.mkdtemp(prefix=".export-", dir=config_dir))
    jobs = []
    try:
        export = export_splits(conn, config, export_dir)
        job = job_id(config, data_sha256(export_dir))
        for replicate in range(1, config.config.replicates + 1):
            name = replicate_job_id(job, replicate)
            work_dir = config_dir / name
            if not work_dir.is_dir():  # same job, same rows: the files there are identical
                staging = Path(tempfile.mkdtemp(prefix=".job-", dir=config_dir))
                for path in export_dir.iterdir():
                    shutil.copy2(path, staging / path.name)
                staging.rename(work_dir)
            jobs.append(plan_job(config, settings, export.counts, work_dir, name, replicate))
    finally:
        shutil.rmtree(export_dir, ignore_errors=True)
    return jobs, export


@dataclass(frozen=True)
class RegisteredModel:
    id: int
    artefact_dir: Path
    artefact_sha256: str
    metrics: dict[str, Any]


def succeeded(
    conn: psycopg.Connection, config: StoredConfig, job: str, split_sha256: str
) -> RegisteredModel | None:
    """The newest succeeded model of this exact job (model settings and rows), bound to this
    split, whose artefact is intact. A model of another split is never reused: its train rows
    may be test rows now."""
    row = conn.execute(
        "select id, pretrained_model_dir_path, artefact_sha256, metrics from llm.fine_tuned_models "
        "where tuning_config_id = %s and status = 'succeeded' and metrics->>'job_id' = %s "
        "and split_sha256 = %s order by id desc limit 1",
        (config.id, job, split_sha256),
    ).fetchone()
    if row is None:
        return None
    model = RegisteredModel(row[0], Path(row[1]), row[2], dict(row[3]))
    # an artefact deleted or edited since registration is trained again, not reused
    if not model.artefact_dir.is_dir() or directory_sha256(model.artefact_dir)[1] != model.artefact_sha256:
        return None
    return model


def start(
    conn: psycopg.Connection, config: StoredConfig, run_id: str | None, split_sha256: str, job: TrainingJob,
    replicate: int = 1,
) -> int:
    """A `running` row of replicate `replicate`, bound to the config's model settings and to the
    split it trains on; rows of the same config still `running` were left by a killed process
    (one run trains a partition's replicates one after the other)."""
    with conn.transaction():
        conn.execute(
            "update llm.fine_tuned_models set status = 'failed', finished_at = now(), "
            "error = 'interrupted: still running when a new run of this config started' "
            "where tuning_config_id = %s and status = 'running'",
            (config.id,),
        )
        (model_id,) = conn.execute(
            "insert into llm.fine_tuned_models "
            "(tuning_config_id, status, config_sha256, model_sha256, split_sha256, llm_model, "
            "tuning_methodology, dagster_run_id, replicate, seed) "
            "values (%(config_id)s, 'running', %(sha)s, %(model_sha)s, %(split_sha)s, %(llm_model)s, "
            "%(tuning_methodology)s, %(run_id)s, %(replicate)s, %(seed)s) returning id",
            {
                "config_id": config.id,
                "sha": config.config_sha256,
                "model_sha": config.model_sha256,
                "split_sha": split_sha256,
                "llm_model": config.config.llm_model,
                "tuning_methodology": config.config.tuning_methodology,
                "run_id": run_id,
                "replicate": replicate,
                "seed": job.seed,
            },
        ).fetchone()
    return model_id


def log_event(conn: psycopg.Connection, model_id: int, event: dict[str, Any]) -> None:
    with conn.transaction():
        conn.execute(
            "insert into llm.training_logs (fine_tuned_model_id, step, epoch, logs) "
            "values (%s, %s, %s, cast(%s as jsonb))",
            (model_id, event["step"], event.get("epoch"), _json(event)),
        )


def succeed(conn: psycopg.Connection, model_id: int, result: TrainingResult) -> None:
    with conn.transaction():
        conn.execute(
            "update llm.fine_tuned_models set status = 'succeeded', pretrained_model_dir_path = %(path)s, "
            "artefact_sha256 = %(sha)s, metrics = cast(%(metrics)s as jsonb), "
            "library_versions = cast(%(versions)s as jsonb), environment = cast(%(environment)s as jsonb), "
            "finished_at = now(), duration_seconds = extract(epoch from now() - started_at), error = null "
            "where id = %(id)s",
            {
                "id": model_id,
                "path": result.artefact_dir,
                "sha": result.artefact_sha256,
                "metrics": _json(
                    {
                        **result.metrics,
                        "job_id": result.job_id,
                        "trainable_params": result.trainable_params,
                        "total_params": result.total_params,
                        "global_step": result.global_step,
                        "resumed_from": result.resumed_from,
                    }
                ),
                "versions": _json(result.library_versions),
                "environment": _json(result.environment),
            },
        )


def fail(conn: psycopg.Connection, model_id: int, error: str) -> None:
    with conn.transaction():
        conn.execute(
            "update llm.fine_tuned_models set status = 'failed', error = %s, finished_at = now(), "
            "duration_seconds = extract(epoch from now() - started_at) where id = %s",
            (error[:4000], model_id),
        )
