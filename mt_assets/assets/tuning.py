"""Tuning configs (one YAML file = one partition) and their train/validation/test splits."""

import hashlib
import warnings

import dagster as dg

from mt_assets.assets import markdown
from mt_assets.partitions import tuning_config_partitions
from mt_assets.resources import DatabaseResource
from mt_assets.settings import Settings
from mt_assets.tuning import distribution, store
from mt_assets.tuning.config import load_config_dir

_SAMPLES = 5



def _table(header: tuple[str, ...], rows: list[tuple]) -> str:
    return markdown.table(header, rows, width=2000)  # validation errors are shown whole

def _status(outcome: store.UpsertOutcome) -> str:
    if outcome.status != "changed":
        return outcome.status
    if outcome.model_changed:
        return "changed (model settings: fine_tuned_model trains again)"
    # `replicates` is outside the model hash too: the trained replicates are kept, new ones train
    return "changed (generation only or replicates: trained models are kept, translations and scores are redone)"


@dg.asset(
    group_name="tuning",
    description="Validates every *.yaml under MT_CONFIG_DIR, upserts llm.tuning_configs and adds one "
    "partition per config name. Invalid files are reported (check configs_valid) and skipped.",
    check_specs=[
        dg.AssetCheckSpec("configs_valid", asset="tuning_configs", description="Every config file is valid.")
    ],
)
def tuning_configs(context: dg.AssetExecutionContext, database: DatabaseResource) -> dg.MaterializeResult:
    config_dir = Settings.from_env().config_dir
    try:
        loaded = load_config_dir(config_dir)
    except FileNotFoundError as err:
        raise dg.Failure(str(err)) from None
    with database.connect(autocommit=True) as conn:
        outcomes = store.upsert(conn, loaded)
    known = set(context.instance.get_dynamic_partitions(tuning_config_partitions.name))
    added = sorted({o.name for o in outcomes} - known)
    if added:
        context.instance.add_dynamic_partitions(tuning_config_partitions.name, added)

    errors = [e for item in loaded for e in item.errors]
    notes = [w for item in loaded for w in item.warnings]
    for line in errors:
        context.log.error(line)
    for line in notes:
        context.log.warning(line)
    statuses = {
        s: sum(1 for o in outcomes if o.status == s) for s in ("new", "changed", "updated", "unchanged")
    }
    # One version for the whole set: unchanged configs keep the version, so nothing downstream turns stale.
    version = hashlib.sha256(
        "\n".join(sorted(f"{o.name}:{o.config_sha256}" for o in outcomes)).encode()
    ).hexdigest()
    return dg.MaterializeResult(
        metadata={
            "config_dir": str(config_dir),
            "files": len(loaded),
            "loaded": len(outcomes),
            **statuses,
            "rejected": sum(1 for item in loaded if not item.ok),
            "partitions_added": ", ".join(added) or "none",
            "configs": dg.MetadataValue.md(
                _table(
                    ("name", "file", "status", "config_sha256"),
                    [(o.name, o.source, _status(o), o.config_sha256[:12]) for o in outcomes],
                )
            ),
            "errors": dg.MetadataValue.md("\n".join(f"- `{e}`" for e in errors) or "none"),
            "warnings": dg.MetadataValue.md("\n".join(f"- `{w}`" for w in notes) or "none"),
        },
        data_version=dg.DataVersion(version[:24]),
        check_results=[
            dg.AssetCheckResult(
                check_name="configs_valid",
                passed=not errors,
                severity=dg.AssetCheckSeverity.ERROR,
                description=f"{len(errors)} problem(s) in {sum(1 for i in loaded if not i.ok)} file(s)"
                if errors
                else None,
                metadata={"errors": dg.MetadataValue.md("\n".join(f"- `{e}`" for e in errors) or "none")},
            )
        ],
    )


@dg.asset(
    group_name="tuning",
    partitions_def=tuning_config_partitions,
    deps=[tuning_configs, dg.AssetKey("dataset")],
    description="Deterministic, leak-free train/validation/test split of the rows a tuning config selects "
    "(mt_assets/tuning/splits.py documents the function).",
)
def tuning_dataset_distribution(
    context: dg.AssetExecutionContext, database: DatabaseResource
) -> dg.MaterializeResult:
    try:
        with database.connect(autocommit=True) as conn:
            result = distribution.materialize(conn, context.partition_key)
    except distribution.DistributionError as err:
        raise dg.Failure(str(err)) from None
    for line in result.warnings:
        context.log.warning(line)
    totals = {s: sum(c.rows for c in result.counts if c.split == s) for s in ("train", "validation", "test")}
    return dg.MaterializeResult(
        metadata={
            "config_sha256": result.config_sha256,
            "outcome": result.outcome,
            **{f"{split}_rows": n for split, n in totals.items()},
            "counts": dg.MetadataValue.md(
                _table(
                    ("split", "language", "edition", "rows"),
                    [(c.split, c.source_language, c.edition, c.rows) for c in result.counts],
                )
            ),
        },
        data_version=dg.DataVersion(result.data_version),
    )


def _partition_check(description: str, *, blocking: bool = False):
    """A check on one partition of tuning_dataset_distribution; a blocking one that fails with ERROR
    severity stops the run's downstream assets (the model, its translations and scores) for that partition."""

    def decorate(fn):
        # Partitioned checks are "preview" in Dagster 1.13; we use them knowingly and keep the
        # warning out of every `dagster` command's output.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", dg.PreviewWarning)
            return dg.asset_check(
                asset=tuning_dataset_distribution,
                partitions_def=tuning_config_partitions,
                description=description,
                blocking=blocking,
            )(fn)

    return decorate


def _inspect(database: DatabaseResource, name: str) -> distribution.Inspection | dg.AssetCheckResult:
    try:
        with database.connect(autocommit=True) as conn:
            ins = distribution.inspect(conn, name)
    except distribution.DistributionError as err:
        return dg.AssetCheckResult(passed=False, description=str(err))
    if not ins.stored:
        return dg.AssetCheckResult(
            passed=False, description=f"no split stored for {name!r}; materialize this partition"
        )
    return ins


@_partition_check(
    description="No normalised source text is in the test split and in another split. Blocking: on a leak "
    "(or no stored split) nothing downstream runs, since a model trained or scored on leaked rows says nothing.",
    blocking=True,
)
def no_train_test_overlap(
    context: dg.AssetCheckExecutionContext, database: DatabaseResource
) -> dg.AssetCheckResult:
    ins = _inspect(database, context.partition_key)
    if isinstance(ins, dg.AssetCheckResult):
        return ins
    leaks = distribution.leaked_test_texts(ins)
    samples = [f"{'/'.join(sorted(s))}: {t[:80]}" for t, s in sorted(leaks.items())[:_SAMPLES]]
    return dg.AssetCheckResult(
        passed=not leaks,
        # Dagster blocks downstream assets only on a failed check of ERROR severity (the default, stated
        # here because a WARN would silently let training run on leaked rows).
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{len(leaks)} test text(s) also in another split; materialize this partition again"
        if leaks
        else None,
        metadata={
            "leaked_texts": len(leaks),
            "samples": dg.MetadataValue.md("\n".join(f"- {s}" for s in samples) or "none"),
        },
    )


@_partition_check(
    description="Test and validation counts are within one row of the request in every (language, edition) "
    "stratum. Warns only: repeated texts are kept together, which can cost exact counts.",
)
def split_sizes_match_request(
    context: dg.AssetCheckExecutionContext, database: DatabaseResource
) -> dg.AssetCheckResult:
    ins = _inspect(database, context.partition_key)
    if isinstance(ins, dg.AssetCheckResult):
        return ins
    deviations = distribution.size_deviations(ins)
    return dg.AssetCheckResult(
        passed=not deviations,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "deviations": dg.MetadataValue.md(
                _table(
                    ("language", "edition", "split", "requested", "stored"),
                    [(d.source_language, d.edition, d.split, d.requested, d.stored) for d in deviations],
                )
                if deviations
                else "none"
            )
        },
    )


@_partition_check(
    description="Every row the config selects is stored in exactly one split, the one the split function gives.",
)
def every_selected_row_in_one_split(
    context: dg.AssetCheckExecutionContext, database: DatabaseResource
) -> dg.AssetCheckResult:
    ins = _inspect(database, context.partition_key)
    if isinstance(ins, dg.AssetCheckResult):
        return ins
    cov = distribution.coverage(ins)
    return dg.AssetCheckResult(
        passed=cov.exact,
        metadata={
            "selected": len(ins.expected),
            "stored": len(ins.stored),
            "missing": cov.missing,
            "extra": cov.extra,
            "moved": cov.moved,
        },
    )


@_partition_check(
    description="The stored split was made from the current config (same config_sha256); fails after a config edit "
    "until the partition is materialized again.",
)
def distribution_matches_config(
    context: dg.AssetCheckExecutionContext, database: DatabaseResource
) -> dg.AssetCheckResult:
    ins = _inspect(database, context.partition_key)
    if isinstance(ins, dg.AssetCheckResult):
        return ins
    current = ins.config.sha256
    stale = ins.stored_sha256 != {current}
    return dg.AssetCheckResult(
        passed=not stale,
        description=f"stale: the config changed since this split was made; materialize {context.partition_key} again"
        if stale
        else None,
        metadata={
            "config_sha256": current,
            "split_config_sha256": ", ".join(sorted(str(s) for s in ins.stored_sha256)),
        },
    )


@dg.sensor(
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds a partition for every llm.tuning_configs row without one (e.g. configs inserted with SQL).",
)
def tuning_config_partitions_sensor(context: dg.SensorEvaluationContext, database: DatabaseResource):
    with database.connect(autocommit=True) as conn:
        names = store.names(conn)
    known = set(context.instance.get_dynamic_partitions(tuning_config_partitions.name))
    new = [n for n in names if n not in known]
    if not new:
        return dg.SkipReason(f"all {len(names)} tuning config(s) have partitions")
    return dg.SensorResult(dynamic_partitions_requests=[tuning_config_partitions.build_add_request(new)])


TUNING_ASSETS = [tuning_configs, tuning_dataset_distribution]
TUNING_CHECKS = [
    no_train_test_overlap,
    split_sizes_match_request,
    every_selected_row_in_one_split,
    distribution_matches_config,
]
TUNING_SENSORS = [tuning_config_partitions_sensor]
