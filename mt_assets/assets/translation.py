"""The `translations` asset: each config's test split translated by every method, through the
launcher resource (this machine or the SSH GPU host), into llm.translation."""

import dagster as dg

from mt_assets.assets import markdown
from mt_assets.launchers.base import Launcher
from mt_assets.models.sources import ModelSourceError
from mt_assets.partitions import tuning_config_partitions
from mt_assets.resources import DatabaseResource
from mt_assets.settings import Settings
from mt_assets.translation.errors import TranslationError
from mt_assets.translation.executions import ensure_user_execution, load_execution_dir
from mt_assets.translation.run import samples, translate_config
from mt_assets.translation.spec import DEFAULT_BATCH_SIZE


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
    with database.connect(autocommit=True) as conn:
        try:
            outcome = translate_config(
                conn,
                context.partition_key,
                settings,
                context.log.info,
                lambda job, emit: launcher.translate(context, job, emit),
                config.batch_size,
            )
        except (TranslationError, ModelSourceError) as err:
            raise dg.Failure(str(err)) from None
        user_executions, problems = _user_executions(conn, settings, context.partition_key)
        examples = samples(conn, outcome.execution.id)
    for line in problems:
        context.log.error(line)
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
    }
    for m in outcome.methods:
        if m.sentences_per_second:
            metadata[f"sentences_per_second/{m.kind}"] = m.sentences_per_second
    return dg.MaterializeResult(metadata=metadata)


def _user_executions(conn, settings: Settings, config_name: str) -> tuple[list[str], list[str]]:
    """Register the configs/executions/*.yaml executions that involve this config."""
    loaded, problems = load_execution_dir(settings.config_dir)
    lines = []
    for item in loaded:
        if not any(m.rsplit(":", 1)[0] == config_name for m in item.spec.methods):
            continue
        try:
            result = ensure_user_execution(conn, item)
        except TranslationError as err:
            problems.append(str(err))
            continue
        state = (
            f"registered (id {result.id})"
            if result.id is not None
            else f"waiting for {', '.join(result.missing_methods)} (run translations for their configs)"
        )
        lines.append(f"{result.name}: {state}; {result.shared_test_rows} shared test rows")
    return lines, problems


TRANSLATION_ASSETS = [translations]
