"""`fine_tuned_model`: one tuning config partition in, one registered adapter (or full model) out."""

import warnings

import dagster as dg

from mt_assets.launchers.base import Launcher
from mt_assets.models import sources
from mt_assets.partitions import tuning_config_partitions
from mt_assets.resources import DatabaseResource
from mt_assets.settings import Settings
from mt_assets.training import registry
from mt_assets.training.progress import TrainingProgress, total_steps
from mt_assets.training.spec import TrainingJob
from mt_assets.translation import methods
from mt_assets.translation.errors import TranslationError
from mt_assets.tuning.store import StoredConfig


@dg.asset(
    partitions_def=tuning_config_partitions,
    deps=["tuning_dataset_distribution"],
    group_name="training",
    description="Trains the partition's config on its train split through the `launcher` resource "
    "(resuming from the job's newest checkpoint) and registers the result in llm.fine_tuned_models; "
    "every log step lands in llm.training_logs as it happens.",
)
def fine_tuned_model(
    context: dg.AssetExecutionContext, database: DatabaseResource, launcher: Launcher
) -> dg.MaterializeResult:
    settings = Settings.from_env()
    # Short connections, each step committed on its own (the running row and every log line are
    # visible while the model trains), and none held idle across the training: a run lasts hours,
    # and a server restart or a hosted server's idle timeout must not lose the final row.
    with database.connect(autocommit=True) as conn:
        config = registry.load_config(conn, context.partition_key)
        sources.check(config.llm_model)  # a missing model fails here, before any export
        jobs, export = registry.prepare_jobs(conn, config, settings)
    trained = [
        _train(context, database, launcher, config, job, export, replicate, len(jobs))
        for replicate, job in enumerate(jobs, 1)
    ]
    metadata = {**trained[0], "split_sha256": export.split_sha256}
    if len(trained) > 1:
        metadata["replicates"] = _replicates_table(trained)
    return dg.MaterializeResult(metadata={k: v for k, v in metadata.items() if v is not None})


def _train(
    context: dg.AssetExecutionContext,
    database: DatabaseResource,
    launcher: Launcher,
    config: StoredConfig,
    job: TrainingJob,
    export: registry.Export,
    replicate: int,
    replicates: int,
) -> dict:
    """Train one replicate (or reuse it: an interrupted run resumes at the first one not done);
    returns its metadata."""
    label = f"replicate {replicate}/{replicates} (seed {job.seed}): " if replicates > 1 else ""
    with database.connect(autocommit=True) as conn:
        previous = registry.succeeded(conn, config, job.job_id, export.split_sha256)
        if previous is None:
            model_id = registry.start(conn, config, context.run_id, export.split_sha256, job, replicate)
    if previous is not None:
        context.log.info(
            f"{label}job {job.job_id} already trained on this split with these model settings "
            f"(fine_tuned_models.id {previous.id}); reusing it"
        )
        return {
            "fine_tuned_model_id": previous.id,
            "artefact_dir": dg.MetadataValue.path(str(previous.artefact_dir)),
            "artefact_sha256": previous.artefact_sha256,
            "reused": True,
            "train_loss": previous.metrics.get("train_loss"),
        }
    counts = export.counts
    curve: list[dict] = []
    progress = TrainingProgress(total_steps(job.training_args, counts["train"]))

    def on_event(event: dict) -> None:
        line = progress.line(event)
        if line:
            context.log.info(label + line)
        if event["event"] == "warning":  # the training host adapted a setting it cannot honour
            context.log.warning(f"{label}training: {event['message']}")
        if event["event"] == "precision":  # resolved on the training host (models/precision.py)
            context.log.info(f"{label}training: {event['message']}")
        if event["event"] == "log":
            with database.connect(autocommit=True) as conn:
                registry.log_event(conn, model_id, event)
            curve.append(event)

    try:
        result = launcher.train(context, job, on_event)
    except BaseException as exc:  # a cancelled run is a failed one too, never left 'running'
        with database.connect(autocommit=True) as conn:
            registry.fail(conn, model_id, str(exc) or type(exc).__name__)
        raise
    with database.connect(autocommit=True) as conn:
        registry.succeed(conn, model_id, result)
    metrics = result.metrics
    return {
        "fine_tuned_model_id": model_id,
        "artefact_dir": dg.MetadataValue.path(result.artefact_dir),
        "artefact_sha256": result.artefact_sha256,
        "trainable_params": result.trainable_params,
        "total_params": result.total_params,
        "global_step": result.global_step,
        "resumed_from": result.resumed_from,
        "train_rows": counts["train"],
        "validation_rows": counts["validation"],
        "tokens_per_second": metrics.get("tokens_per_second"),
        "train_loss": metrics.get("train_loss"),
        "eval_loss": metrics.get("eval_loss"),
        "loss_curve": _curve_table(curve),
    }


def _replicates_table(trained: list[dict]) -> dg.TableMetadataValue:
    schema = dg.TableSchema(
        columns=[dg.TableColumn("replicate", "int"), dg.TableColumn("fine_tuned_model_id", "int"),
                 dg.TableColumn("reused", "bool"), dg.TableColumn("train_loss", "float")]
    )
    records = [
        dg.TableRecord({"replicate": k, "fine_tuned_model_id": meta["fine_tuned_model_id"],
                        "reused": meta.get("reused", False), "train_loss": meta.get("train_loss")})
        for k, meta in enumerate(trained, 1)
    ]
    return dg.MetadataValue.table(records=records, schema=schema)


_CURVE_COLUMNS = ("step", "epoch", "loss", "eval_loss", "learning_rate", "grad_norm", "tokens_per_second")


def _curve_table(curve: list[dict]) -> dg.TableMetadataValue:
    schema = dg.TableSchema(
        columns=[dg.TableColumn(name, "int" if name == "step" else "float") for name in _CURVE_COLUMNS]
    )
    records = [dg.TableRecord({name: event.get(name) for name in _CURVE_COLUMNS}) for event in curve]
    return dg.MetadataValue.table(records=records, schema=schema)


def _model_bound_to_split(
    context: dg.AssetCheckExecutionContext, database: DatabaseResource
) -> dg.AssetCheckResult:
    """The model `translations` would use: the same lookup and the same refusal."""
    with database.connect() as conn:
        try:
            config = methods.load_config(conn, context.partition_key)
        except TranslationError as err:
            return dg.AssetCheckResult(passed=False, description=str(err))
        models = [methods.newest_model(conn, config, k) for k in range(1, config.config.replicates + 1)]
    missing = [k for k, model in enumerate(models, 1) if model is None]
    if missing:
        which = "" if config.config.replicates == 1 else f" for replicate {', '.join(map(str, missing))}"
        return dg.AssetCheckResult(
            passed=False,
            description=f"no succeeded model with the current model settings of {context.partition_key!r}{which}; "
            "materialize fine_tuned_model for this partition",
        )
    metadata = {
        "fine_tuned_model_id": models[0].id if len(models) == 1 else ", ".join(str(m.id) for m in models),
        "model_split_sha256": ", ".join(sorted({model.split_sha256 or "none" for model in models})),
        "config_split_sha256": config.split_sha256 or "none",
    }
    try:
        for model in models:
            methods.check_split(config, model)
    except TranslationError as err:
        return dg.AssetCheckResult(passed=False, description=str(err), metadata=metadata)
    return dg.AssetCheckResult(passed=True, metadata=metadata)


# Partitioned checks are "preview" in Dagster 1.13 (as in assets/tuning.py): used knowingly.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.PreviewWarning)
    model_bound_to_split = dg.asset_check(
        asset=fine_tuned_model,
        name="model_bound_to_split",
        partitions_def=tuning_config_partitions,
        description="The model translations would use (newest succeeded, current model settings) was trained "
        "on the config's current train/validation rows; fails after a re-split until fine_tuned_model runs again.",
    )(_model_bound_to_split)

TRAINING_CHECKS = [model_bound_to_split]
