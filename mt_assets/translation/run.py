"""The translations step for one tuning config, so the Dagster asset stays thin: ensure its
methods and execution, translate what each method has not translated yet, store outputs
as they arrive.

The translating itself is `run(job, emit)`: the asset passes its launcher's `translate` (a local
subprocess or a GPU host over SSH, both running `python -m mt_assets.translation`), so this module
never loads a model or torch. The floors (`translation/baselines.py`) need no model: they are
computed here, from the config's train rows, and stored through the same writer.
`translate_user_executions` registers and translates the configs/executions/*.yaml executions
that involve a config, and attaches the external systems that cover their rows."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg

from mt_assets.models.artefacts import directory_sha256
from mt_assets.models.sources import ModelSourceError
from mt_assets.settings import Settings
from mt_assets.translation import baselines, store
from mt_assets.translation.errors import TranslationError
from mt_assets.translation.executions import ensure_user_execution, load_execution_dir
from mt_assets.translation.methods import (
    BASELINE,
    FINE_TUNED,
    Execution,
    Method,
    ensure_config_execution,
    load_execution,
    test_row_count,
)
from mt_assets.translation.spec import DEFAULT_BATCH_SIZE, TranslationJob
from mt_assets.translation.systems import attach_systems

Log = Callable[[str], None]
Emit = Callable[[dict[str, Any]], None]
# Translates one job, calling emit for each event as it arrives (launchers.base.Launcher.translate);
# raises when the job fails, after emitting what it translated.
RunTranslation = Callable[[TranslationJob, Emit], None]
# Progress lines at most this often, so a long run's log stays readable.
PROGRESS_EVERY_SECONDS = 10.0


@dataclass(frozen=True)
class MethodOutcome:
    method: str
    kind: str
    test_rows: int
    already_translated: int
    translated: int
    seconds: float
    sanitized: int = 0  # rows stored now whose text `sanitize` changed (llm.translation.sanitized)
    precision: str | None = None  # what the model computed in (models/precision.py); None: no model ran now
    redone: bool = False  # rows stored earlier in another precision were dropped (and translated again)

    @property
    def sentences_per_second(self) -> float | None:
        return self.translated / self.seconds if self.translated and self.seconds > 0 else None


@dataclass(frozen=True)
class TranslationOutcome:
    execution: Execution
    methods: tuple[MethodOutcome, ...]


def _safe(name: str) -> str:
    return name.replace(":", "--")


def plan_job(
    method: Method, input_file: Path, few_shot: list[dict[str, Any]], settings: Settings, batch_size: int
) -> TranslationJob:
    config, gen = method.config, method.generation
    codes = gen.get("languages") or {}
    llm_model, adapter = config.llm_model, None
    if method.kind == FINE_TUNED:
        model = method.model
        artefact_dir = Path(model.artefact_dir)
        if not artefact_dir.is_dir():
            raise TranslationError(
                f"{method.name}: fine-tuned model {model.id} is missing its artefact {artefact_dir}"
            )
        if model.artefact_sha256 and directory_sha256(artefact_dir)[1] != model.artefact_sha256:
            raise TranslationError(
                f"{method.name}: artefact {artefact_dir} no longer matches fine_tuned_models.id {model.id}'s checksum; "
                "materialize fine_tuned_model again"
            )
        if (artefact_dir / "adapter_config.json").is_file():
            llm_model, adapter = model.llm_model, artefact_dir
        else:  # full fine-tuning: the artefact is a whole model
            llm_model = str(artefact_dir)
    return TranslationJob(
        method=method.name,
        llm_model=llm_model,
        adapter_dir=adapter,
        task=gen["task"],
        source_language_code=codes.get("source"),
        target_language_code=codes.get("target"),
        prompt_template=gen.get("prompt_template"),
        few_shot=tuple(few_shot),
        num_beams=gen["num_beams"],
        max_new_tokens=gen["max_new_tokens"],
        max_new_tokens_per_source_token=gen.get("max_new_tokens_per_source_token"),
        stop_at_newline="newline" in gen["stop"],
        batch_size=batch_size,
        input_file=input_file,
        models_cache_dir=settings.models_dir,
        precision=gen.get("precision", "auto"),
    )


def _stop_note(job: TranslationJob) -> str:
    if job.task != "causal":
        return ""
    if job.stop_at_newline:
        return "; a row stops at its first newline or EOS"
    return "; a reference of the config's data spans lines, so a row stops only at EOS or its token cap"


def _progress_logger(method: str, log: Log) -> Emit:
    last = [0.0]

    def on_progress(event: dict[str, Any]) -> None:
        now = time.monotonic()
        if event["done"] < event["total"] and now - last[0] < PROGRESS_EVERY_SECONDS:
            return
        last[0] = now
        rate, eta = event["sentences_per_second"], event["eta_seconds"]
        log(
            f"{method}: {event['done']}/{event['total']} translated, {rate:.2f} sentences/s, ETA {eta:.0f} s"
            if rate
            else f"{method}: {event['done']}/{event['total']}"
        )

    return on_progress


def translate_config(
    conn: psycopg.Connection,
    config_name: str,
    settings: Settings,
    log: Log,
    run: RunTranslation,
    batch_size: int = DEFAULT_BATCH_SIZE,
    write_batch: int = 16,
) -> TranslationOutcome:
    """`conn` must be in autocommit mode: each written batch is committed on its own. Rows are
    stored as their events arrive, so a failed or interrupted `run` keeps what it translated."""
    execution = ensure_config_execution(conn, config_name)
    for name in execution.invalidated:
        log(
            f"{name}: its definition changed (model or generation settings); old translations and scores dropped"
        )
    return _translate(conn, execution, settings, log, run, batch_size, write_batch)


def translate_execution(
    conn: psycopg.Connection,
    execution_id: int,
    settings: Settings,
    log: Log,
    run: RunTranslation,
    batch_size: int = DEFAULT_BATCH_SIZE,
    write_batch: int = 16,
) -> TranslationOutcome:
    """A registered execution's methods on its rows config's test rows (a user execution,
    `executions.py`): what each has not translated yet. `conn` in autocommit mode."""
    execution = load_execution(conn, execution_id)
    return _translate(conn, execution, settings, log, run, batch_size, write_batch)


def _translate(
    conn: psycopg.Connection,
    execution: Execution,
    settings: Settings,
    log: Log,
    run: RunTranslation,
    batch_size: int,
    write_batch: int,
) -> TranslationOutcome:
    """Each of the execution's methods' outputs for the test rows of its rows config that it has not
    translated yet: the model methods through `run`, the floors here. Rows are stored as their
    events arrive."""
    execution_id, rows_config_id = execution.id, execution.rows_config_id
    (rows_config,) = conn.execute("select name from llm.tuning_configs where id = %s", (rows_config_id,)).fetchone()
    total = test_row_count(conn, rows_config_id)
    if total == 0:
        raise TranslationError(
            f"tuning config {rows_config!r} has no test rows; materialize tuning_dataset_distribution "
            "(and check data.test_size)"
        )
    train: list[baselines.TrainPair] | None = None  # the rows config's train pairs, read once for all the floors
    outcomes = []
    for method in execution.methods:
        pending = store.pending_rows(conn, rows_config_id, method.id)
        if not pending:
            log(f"{method.name}: all {total} test rows already translated")
            outcomes.append(MethodOutcome(method.name, method.kind, total, total, 0, 0.0))
            continue
        if method.kind == BASELINE:
            train = store.train_pairs(conn, rows_config_id) if train is None else train
            outcomes.append(_baseline(conn, method, execution_id, train, pending, total, log, write_batch))
            continue
        outcome = _translate_model(conn, method, execution_id, rows_config, pending, total, settings, log, run,
                                   batch_size, write_batch)
        if outcome.redone:  # rows of another precision were dropped when the job started: translate them now
            pending = store.pending_rows(conn, rows_config_id, method.id)
            again = _translate_model(conn, method, execution_id, rows_config, pending, total, settings, log, run,
                                     batch_size, write_batch)
            outcome = replace(outcome, already_translated=0, translated=outcome.translated + again.translated,
                              seconds=outcome.seconds + again.seconds, sanitized=outcome.sanitized + again.sanitized)
        outcomes.append(outcome)
    return TranslationOutcome(execution, tuple(outcomes))


def _translate_model(
    conn: psycopg.Connection,
    method: Method,
    execution_id: int,
    rows_config: str,
    pending: list[dict[str, Any]],
    total: int,
    settings: Settings,
    log: Log,
    run: RunTranslation,
    batch_size: int,
    write_batch: int,
) -> MethodOutcome:
    """Translate a model method's pending rows through `run`, storing rows as their events arrive."""
    work = settings.home / "translations" / rows_config / _safe(method.name)
    input_file = store.write_input(pending, work / "input.jsonl")
    few_shot = store.few_shot_examples(conn, method.config.id, method.generation.get("few_shot", 0))
    job = plan_job(method, input_file, few_shot, settings, batch_size)
    job.write(work / "job.json")
    log(
        f"{method.name}: translating {len(pending)} of {total} test rows ({total - len(pending)} already done)"
        + _stop_note(job)
    )
    writer = store.TranslationWriter(conn, method.id, execution_id, write_batch)
    on_progress = _progress_logger(method.name, log)
    precision: list[str] = []  # resolved on the translating host, announced in its start event
    redone: list[int] = []
    keep = {row["tuning_dataset_distribution_id"] for row in pending}

    def emit(event: dict[str, Any]) -> None:
        if event["event"] == "translation":
            writer.add(event)
        elif event["event"] == "progress":
            on_progress(event)
        elif event["event"] == "start" and event.get("precision"):
            precision.append(event["precision"])
            log(f"{event['method']}: precision {event['precision']} ({event.get('precision_reason')})")
            redone.append(_record_precision(conn, method, event["precision"], keep, log))

    started = time.perf_counter()
    try:
        run(job, emit)
    finally:
        writer.flush()  # what was translated before a failure is kept for the next run
    return MethodOutcome(
        method.name,
        method.kind,
        total,
        total - len(pending),
        writer.written,
        time.perf_counter() - started,
        writer.sanitized,
        precision[0] if precision else None,
        bool(sum(redone)),
    )


def _record_precision(conn: psycopg.Connection, method: Method, precision: str, keep: set[int], log: Log) -> int:
    """Record the precision the method's outputs are computed in (llm.translation_method.precision),
    as its job's host resolved it. Rows stored earlier in another precision (another host resolved
    `auto` differently) are dropped, with the method's scores, before this job stores any: one
    method's outputs come from one system. Returns how many rows were dropped (the caller
    translates them again)."""
    (stored,) = conn.execute("select precision from llm.translation_method where id = %s", (method.id,)).fetchone()
    dropped = 0
    if stored is not None and stored != precision:
        conn.execute("delete from llm.evaluation where translation_method_id = %s", (method.id,))
        dropped = conn.execute(
            "delete from llm.translation where translation_method_id = %s "
            "and tuning_dataset_distribution_id <> all(%s)",
            (method.id, list(keep)),
        ).rowcount
        log(f"{method.name}: {dropped} rows stored earlier were computed in {stored}, this host computes in "
            f"{precision}; they are translated again")
    conn.execute("update llm.translation_method set precision = %s where id = %s", (precision, method.id))
    return dropped


def translate_user_executions(
    conn: psycopg.Connection, settings: Settings, config_name: str, log: Log, run: RunTranslation, batch_size: int
) -> tuple[list[str], list[str]]:
    """Register the configs/executions/*.yaml executions that involve this config (a method of
    it, or its test rows) and translate each registered one."""
    loaded, problems = load_execution_dir(settings.config_dir)
    lines = []
    for item in loaded:
        involved = {m.rsplit(":", 1)[0] for m in item.spec.methods} | {item.spec.rows}
        if config_name not in involved:
            continue
        try:
            result = ensure_user_execution(conn, item)
            if result.id is None:
                lines.append(
                    f"{result.name}: waiting for {', '.join(result.missing_methods)} (run translations for "
                    f"their configs); {result.test_rows} test rows of {result.rows_config}"
                )
                continue
            outcome = translate_execution(conn, result.id, settings, log, run, batch_size)
            systems = attach_systems(conn, result.id, outcome.execution.rows_config_id)
        except (TranslationError, ModelSourceError) as err:
            problems.append(str(err))
            continue
        now = sum(m.translated for m in outcome.methods)
        scored = [f"system:{s.name}" for s in systems if s.scored]
        lines.append(
            f"{result.name}: {len(outcome.methods)} methods on the {result.test_rows} test rows of "
            f"{result.rows_config}; {now} translated now" + (f"; with {', '.join(scored)}" if scored else "")
        )
    return lines, problems


def _baseline(
    conn: psycopg.Connection,
    method: Method,
    execution_id: int,
    train: list[baselines.TrainPair],
    pending: list[dict[str, Any]],
    total: int,
    log: Log,
    write_batch: int,
) -> MethodOutcome:
    """A floor's outputs for the pending rows, from the rows config's train pairs, stored at once."""
    started = time.perf_counter()
    outputs = baselines.outputs(method.name, pending, train)
    writer = store.TranslationWriter(conn, method.id, execution_id, write_batch)
    for event in outputs.events:
        writer.add(event)
    writer.flush()
    seconds = time.perf_counter() - started
    log(f"{method.name}: {writer.written} of {total} test rows in {seconds:.1f} s{outputs.summary}")
    return MethodOutcome(
        method.name, method.kind, total, total - len(pending), writer.written, seconds, writer.sanitized
    )


def samples(
    conn: psycopg.Connection, execution_id: int, segments: int = 3
) -> list[tuple[str, str, str, str]]:
    """(method, source, output, reference) of the first few segments, every method's output."""
    return conn.execute(
        "with first as (select distinct td.dataset_record_id from llm.translation t "
        "  join llm.tuning_dataset_distribution td on td.id = t.tuning_dataset_distribution_id "
        "  where t.translation_execution_id = %(x)s order by td.dataset_record_id limit %(n)s) "
        "select m.name, d.source_text, t.translated_text, d.official_translate from llm.translation t "
        "join llm.translation_method m on m.id = t.translation_method_id "
        "join llm.tuning_dataset_distribution td on td.id = t.tuning_dataset_distribution_id "
        "join llm.dataset d on d.id = td.dataset_record_id "
        "where t.translation_execution_id = %(x)s and d.id in (select dataset_record_id from first) order by d.id, m.name",
        {"x": execution_id, "n": segments},
    ).fetchall()
