"""The `translations` asset: each config's test split translated by every method, through the
launcher resource (this machine or the SSH GPU host), into llm.translation; the external systems
of $MT_CONFIG_DIR/systems loaded and attached where they cover the rows; the user executions of
$MT_CONFIG_DIR/executions involving the config registered and translated."""

import dagster as dg

from mt_assets.assets import markdown
from mt_assets.launchers.base import Launcher
from mt_assets.models.sources import ModelSourceError
from mt_assets.partitions import tuning_config_partitions
from mt_assets.resources import DatabaseResource
from mt_assets.settings import Settings
from mt_assets.translation.errors import TranslationError
from mt_assets.translation.run import samples, translate_config, translate_user_executions
from mt_assets.translation.spec import DEFAULT_BATCH_SIZE
from mt_assets.translation.systems import SystemCoverage, SystemLoad, attach_systems, load_systems


def _table(header: tuple[str, ...], rows: list[tuple]) -> str:
    return markdown.table(header, rows, empty="(empty)")


class TranslationsConfig(dg.Config):
    batch_size: int = DEFAULT_BATCH_SIZE  # rows generated together; lower it if a batch runs out of memory


@dg.asset(
    partitions_def=tuning_config_partitions,
    deps=[dg.AssetKey("fine_tuned_model"), dg.AssetKey("tuning_dataset_distribution")],
    group_name="evaluation",
    description="Translates the partition's test split with its base model and its newest fine-tuned model "
    "(batched, length-sorted, adapter loaded once) into llm.translation, through the launcher resource "
    "(this machine or the SSH GPU host). Resumable: only rows a method has not translated yet are generated.",
)
def translations(
    context: dg.AssetExecutionContext,
    config: TranslationsConfig,
    database: DatabaseResource,
    launcher: Launcher,
) -> dg.MaterializeResult:
    settings = Settings.from_env()

    def run(job, emit):
        launcher.translate(context, job, emit)

    with database.connect(autocommit=True) as conn:
        loads = load_systems(conn, settings.config_dir)
        for load in loads:
            if load.error:
                context.log.error(load.error)
        try:
            outcome = translate_config(
                conn, context.partition_key, settings, context.log.info, run, config.batch_size
            )
        except (TranslationError, ModelSourceError) as err:
            raise dg.Failure(str(err)) from None
        coverage = attach_systems(conn, outcome.execution.id, outcome.execution.rows_config_id)
        user_executions, problems = translate_user_executions(
            conn, settings, context.partition_key, context.log.info, run, config.batch_size
        )
        examples = samples(conn, outcome.execution.id)
    for line in problems:
        context.log.error(line)
    for item in coverage:
        if not item.scored:
            context.log.warning(
                f"system:{item.name} covers {item.covered} of the {item.covered + item.missing} test rows of "
                f"{context.partition_key!r}: not scored here ({item.missing} missing)"
            )
    metadata: dict[str, object] = {
        "execution": outcome.execution.name,
        "methods": dg.MetadataValue.md(
            _table(
                ("method", "kind", "test rows", "already translated", "translated now", "sanitized now", "sentences/s"),
                [
                    (
                        m.method,
                        m.kind,
                        m.test_rows,
                        m.already_translated,
                        m.translated,
                        m.sanitized,
                        f"{m.sentences_per_second:.2f}" if m.sentences_per_second else "—",
                    )
                    for m in outcome.methods
                ],
            )
        ),
        "translated_now": sum(m.translated for m in outcome.methods),
        # rows whose model output had characters removed or replaced before storing (llm.translation.sanitized)
        "sanitized_now": sum(m.sanitized for m in outcome.methods),
        "samples": dg.MetadataValue.md(_table(("method", "source", "output", "reference"), examples)),
        "invalidated_methods": ", ".join(outcome.execution.invalidated) or "none",
        "user_executions": dg.MetadataValue.md(
            "\n".join(f"- {line}" for line in user_executions) or "none involving this config"
        ),
        "execution_file_errors": dg.MetadataValue.md("\n".join(f"- `{p}`" for p in problems) or "none"),
        "systems": dg.MetadataValue.md(_systems_table(loads, coverage)),
    }
    for m in outcome.methods:
        if m.sentences_per_second:
            metadata[f"sentences_per_second/{m.kind}"] = m.sentences_per_second
        if m.precision:
            metadata[f"precision/{m.method}"] = m.precision
    return dg.MaterializeResult(metadata=metadata)


def _systems_table(loads: list[SystemLoad], coverage: list[SystemCoverage]) -> str:
    covered = {c.name: c for c in coverage}
    rows = []
    for load in loads:
        c = covered.get(load.name)
        here = "—" if c is None else ("scored" if c.scored else f"not scored: {c.missing} test rows missing")
        reasons = ", ".join(f"{kind} {n}" for kind, n in sorted(load.reasons.items())) or "—"
        rows.append(
            (f"system:{load.name}", load.file, load.status, load.rows_read, load.rows_loaded, load.rows_rejected,
             reasons, here)
        )
    return _table(("method", "file", "load", "rows read", "loaded", "quarantined", "reasons", "this config"), rows)


TRANSLATION_ASSETS = [translations]
