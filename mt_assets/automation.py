"""Automation: new config files become partitions, new partitions get their pipeline run, and
a nightly schedule re-runs what is stale and refreshes the leaderboard.

| what | kind | default | why |
|---|---|---|---|
| `tuning_config_files_sensor` | sensor, 30 s | on | a config file added, removed or edited (name, size, mtime) → one `tuning_configs` run: validation is cheap and it is what turns a file into a partition |
| `new_config_experiment_sensor` | sensor, 60 s | off | a partition with no split and no run yet → one `experiment` run (run key `new-config:NAME`, so never twice). Off because it starts training: turn it on in the UI when this machine may spend the CPU/GPU time |
| `system_files_sensor` | sensor, 30 s | on | a file under `MT_CONFIG_DIR/systems` added, removed or edited → per partition already evaluated, one `score_systems` run (translations, evaluation, leaderboard): its models' outputs are stored, so the run only loads the systems and scores; a partition not evaluated yet takes them up in its own first run |
| `nightly_refresh` | schedule, 02:00 | off | every stale or never-evaluated partition without an unfinished run → one `experiment_then_leaderboard` run; nothing stale → one leaderboard-only run; no partitions → skip. Off for the same reason |

The decisions are plain functions (`config_dir_fingerprint`, `system_files_fingerprint`,
`new_partitions`, `stale_reason`, `nightly_plan`); the sensors and the schedule only gather their inputs from the Dagster
instance and the database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from mt_assets.assets.tuning import tuning_configs
from mt_assets.assets.watch import on_directory_change
from mt_assets.jobs import EXPERIMENT_ASSETS, experiment_job
from mt_assets.partitions import tuning_config_partitions
from mt_assets.resources import DatabaseResource
from mt_assets.settings import Settings
from mt_assets.translation.systems import DIRECTORY as SYSTEMS_DIR
from mt_assets.translation.systems import system_files
from mt_assets.tuning import store as tuning_store
from mt_assets.tuning.config import config_files

SPLIT_KEY = dg.AssetKey("tuning_dataset_distribution")
EVALUATION_KEY = dg.AssetKey("evaluation")
LEADERBOARD_KEY = dg.AssetKey("leaderboard")
PARTITION_TAG = "dagster/partition"
REASON_TAG = "mt/refresh_reason"

# The schedule's runs end with the leaderboard, so it is refreshed after each evaluation, in
# order (a schedule launches runs of one job only; a separate leaderboard run started at the
# same time would race the evaluations and show yesterday's scores).
experiment_then_leaderboard_job = dg.define_asset_job(
    "experiment_then_leaderboard",
    selection=dg.AssetSelection.assets(*EXPERIMENT_ASSETS, LEADERBOARD_KEY),
    partitions_def=tuning_config_partitions,
    description="One config end to end (split, fine-tune, translate, score), then the leaderboard. "
    "Launched by the nightly_refresh schedule.",
)

# A changed system file re-scores every evaluated config, then ranks again, in one run each.
score_systems_job = dg.define_asset_job(
    "score_systems",
    selection=dg.AssetSelection.assets("translations", EVALUATION_KEY, LEADERBOARD_KEY),
    partitions_def=tuning_config_partitions,
    description="Load the external systems of MT_CONFIG_DIR/systems, attach them where they cover a "
    "config's test rows, score, rank. Launched by system_files_sensor.",
)

# ---------------------------------------------------------------- decisions (no Dagster)


def config_dir_fingerprint(config_dir: Path) -> str | None:
    """A digest of the config files' names, sizes and modification times (the files
    `tuning_configs` reads); None when the directory is missing."""
    if not config_dir.is_dir():
        return None
    return _files_fingerprint(config_files(config_dir))


def _files_fingerprint(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def system_files_fingerprint(config_dir: Path) -> str | None:
    """A digest of the system files' names, sizes and modification times (what `translations`
    loads from MT_CONFIG_DIR/systems); None when there is no such directory."""
    if not (config_dir / SYSTEMS_DIR).is_dir():
        return None
    return _files_fingerprint(system_files(config_dir))


def new_partitions(partitions: Iterable[str], split: set[str], with_runs: set[str]) -> list[str]:
    """Partitions never split and never run: a new config that wants its first pipeline run."""
    return [p for p in partitions if p not in split and p not in with_runs]


@dataclass(frozen=True)
class PartitionHistory:
    """What the nightly rule looks at for one partition."""

    config_sha256: str | None  # now, in llm.tuning_configs (None: no row, nothing to run)
    split_sha256: str | None  # `config_sha256` metadata of the newest tuning_dataset_distribution materialization
    split_id: int | None  # that materialization's event storage id (ids grow with time)
    evaluation_id: int | None  # storage id of the newest evaluation materialization


def stale_reason(history: PartitionHistory) -> str | None:
    """Why the partition needs a run, or None when its evaluation is current.

    Current means: evaluated after its newest split, and that split was made from the config
    as it is now. A config edit changes `config_sha256` (the `tuning_configs` asset, started by
    `tuning_config_files_sensor`, stores it), so the partition is stale until it runs again;
    an unchanged config costs nothing the next night. A generation-only edit changes
    `config_sha256` but not `model_sha256`: the run reuses the model (fine_tuned_model finds
    the same job) and only re-translates and re-scores."""
    if history.config_sha256 is None:
        return None
    if history.evaluation_id is None:
        return "never evaluated"
    if history.split_id is None or history.split_sha256 is None:
        return "no split recorded"
    if history.split_sha256 != history.config_sha256:
        return f"config changed since its split ({history.split_sha256[:12]} -> {history.config_sha256[:12]})"
    if history.split_id > history.evaluation_id:
        return "split newer than its evaluation"
    return None


def nightly_plan(histories: Mapping[str, PartitionHistory], busy: set[str] = frozenset()) -> dict[str, str]:
    """Partition → reason, for every partition that needs a run and has none queued or in
    progress (e.g. started by the new-config sensor), in name order."""
    reasons = {name: stale_reason(h) for name, h in sorted(histories.items()) if name not in busy}
    return {name: reason for name, reason in reasons.items() if reason is not None}


# ---------------------------------------------------------------- inputs (instance, database)


def _latest(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str):
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    ).records
    return records[0] if records else None


def partition_history(instance: dg.DagsterInstance, partition: str, config_sha256: str | None) -> PartitionHistory:
    split = _latest(instance, SPLIT_KEY, partition)
    evaluation = _latest(instance, EVALUATION_KEY, partition)
    split_sha = None
    if split is not None:
        value = split.asset_materialization.metadata.get("config_sha256")
        split_sha = getattr(value, "value", value)
    return PartitionHistory(
        config_sha256=config_sha256,
        split_sha256=split_sha,
        split_id=split.storage_id if split else None,
        evaluation_id=evaluation.storage_id if evaluation else None,
    )


UNFINISHED = [
    dg.DagsterRunStatus.QUEUED,  # not NOT_STARTED: a launch that crashed leaves that forever
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def partitions_with_runs(
    instance: dg.DagsterInstance, partitions: Sequence[str], statuses: Sequence[dg.DagsterRunStatus] | None = None
) -> set[str]:
    """Partitions with at least one run tagged with them (any job; any status unless given)."""
    return {
        p
        for p in partitions
        if instance.get_run_records(dg.RunsFilter(tags={PARTITION_TAG: p}, statuses=statuses or []), limit=1)
    }


# ---------------------------------------------------------------- sensors and schedule


@dg.sensor(
    target=[tuning_configs],
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Runs tuning_configs (validate, upsert, add partitions) when a config file under "
    "MT_CONFIG_DIR is added, removed or modified (by name, size and modification time).",
)
def tuning_config_files_sensor(context: dg.SensorEvaluationContext):
    return on_directory_change(
        context, Settings.from_env().config_dir, "MT_CONFIG_DIR", config_dir_fingerprint, "configs:"
    )


@dg.sensor(
    job=experiment_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Starts one experiment run (split, fine-tune, translate, score) for each tuning-config "
    "partition that has no split and no run yet. Off by default: it starts training, which takes "
    "minutes to hours of CPU/GPU; turn it on when this machine may spend that.",
)
def new_config_experiment_sensor(context: dg.SensorEvaluationContext):
    instance = context.instance
    partitions = instance.get_dynamic_partitions(tuning_config_partitions.name)
    split = instance.get_materialized_partitions(SPLIT_KEY)
    new = new_partitions(partitions, split, partitions_with_runs(instance, [p for p in partitions if p not in split]))
    if not new:
        return dg.SkipReason(f"all {len(partitions)} partition(s) have been split or run")
    return [dg.RunRequest(run_key=f"new-config:{p}", partition_key=p) for p in new]


@dg.sensor(
    job=score_systems_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="When a file under MT_CONFIG_DIR/systems is added, removed or modified, one score_systems run "
    "(translations, evaluation, leaderboard) per partition that has been evaluated: only the systems are new "
    "there, so the run loads and scores them without generating.",
)
def system_files_sensor(context: dg.SensorEvaluationContext):
    current = system_files_fingerprint(Settings.from_env().config_dir)
    if current is None:
        return dg.SkipReason("no MT_CONFIG_DIR/systems directory")
    if current == context.cursor:
        return dg.SkipReason("no change under MT_CONFIG_DIR/systems")
    evaluated = sorted(context.instance.get_materialized_partitions(EVALUATION_KEY))
    context.update_cursor(current)
    if not evaluated:
        return dg.SkipReason("no partition evaluated yet: each takes the systems up in its first run")
    return [dg.RunRequest(run_key=f"systems:{current}:{p}", partition_key=p) for p in evaluated]


@dg.schedule(
    cron_schedule="0 2 * * *",
    job=experiment_then_leaderboard_job,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Nightly: one run per stale or never-evaluated partition (config changed since its "
    "split, or split newer than its evaluation), each ending with the leaderboard; when nothing is "
    "stale, one leaderboard-only run. Off by default, like the experiment sensor: it trains.",
)
def nightly_refresh(context: dg.ScheduleEvaluationContext, database: DatabaseResource):
    instance = context.instance
    partitions = instance.get_dynamic_partitions(tuning_config_partitions.name)
    if not partitions:
        return dg.SkipReason("no tuning-config partitions yet: nothing to evaluate or rank")
    with database.connect(autocommit=True) as conn:
        hashes = tuning_store.hashes(conn)
    busy = partitions_with_runs(instance, partitions, UNFINISHED)
    plan = nightly_plan({p: partition_history(instance, p, hashes.get(p)) for p in partitions}, busy)
    day = (context.scheduled_execution_time or datetime.now(UTC)).strftime("%Y-%m-%d")
    if not plan:
        return [dg.RunRequest(run_key=f"{day}:leaderboard", asset_selection=[LEADERBOARD_KEY])]
    return [
        dg.RunRequest(run_key=f"{day}:{p}", partition_key=p, tags={REASON_TAG: reason})
        for p, reason in plan.items()
    ]


AUTOMATION_JOBS = [experiment_then_leaderboard_job, score_systems_job]
AUTOMATION_SENSORS = [tuning_config_files_sensor, new_config_experiment_sensor, system_files_sensor]
AUTOMATION_SCHEDULES = [nightly_refresh]
