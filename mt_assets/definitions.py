import os

import dagster as dg

from mt_assets.assets.evaluation import EVALUATION_ASSETS
from mt_assets.assets.ingest import INGEST_ASSETS, INGEST_CHECKS, INGEST_SENSORS
from mt_assets.assets.training import TRAINING_CHECKS, fine_tuned_model
from mt_assets.assets.translation import TRANSLATION_ASSETS
from mt_assets.assets.tuning import TUNING_ASSETS, TUNING_CHECKS, TUNING_SENSORS
from mt_assets.automation import AUTOMATION_JOBS, AUTOMATION_SCHEDULES, AUTOMATION_SENSORS
from mt_assets.jobs import JOBS
from mt_assets.launchers.base import Launcher
from mt_assets.launchers.local import LocalLauncher
from mt_assets.launchers.ssh import SSHLauncher
from mt_assets.resources import DatabaseResource


def _database() -> DatabaseResource:
    if os.environ.get("MT_DATABASE_URL"):
        return DatabaseResource(url=dg.EnvVar("MT_DATABASE_URL"))
    return DatabaseResource()


def _launcher() -> Launcher:
    """MT_LAUNCHER=local (default) trains here; MT_LAUNCHER=ssh on the MT_SSH_* host."""
    kind = os.environ.get("MT_LAUNCHER", "local")
    if kind == "local":
        return LocalLauncher()
    if kind == "ssh":
        return SSHLauncher.from_env()
    raise ValueError(f"MT_LAUNCHER must be 'local' or 'ssh', not {kind!r}")


defs = dg.Definitions(
    assets=[*INGEST_ASSETS, *TUNING_ASSETS, fine_tuned_model, *TRANSLATION_ASSETS, *EVALUATION_ASSETS],
    asset_checks=[*INGEST_CHECKS, *TUNING_CHECKS, *TRAINING_CHECKS],
    sensors=[*INGEST_SENSORS, *TUNING_SENSORS, *AUTOMATION_SENSORS],
    jobs=[*JOBS, *AUTOMATION_JOBS],
    schedules=AUTOMATION_SCHEDULES,
    resources={"database": _database(), "launcher": _launcher()},
    # Steps run in the run's own process. Dagster's default starts a Python process per step, which
    # re-imports dagster, torch and this package (several seconds each, on every asset check
    # too); our heavy steps already run in their own processes, through the launcher.
    executor=dg.in_process_executor,
)
