"""`mt-assets demo`: the whole product on real data and a real model, through a real
Dagster instance on PostgreSQL — the same jobs a user launches from the UI."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

DEMO_CONFIGS = ("gemma3-270m-lora-ar-en", "gemma3-270m-lora-fa-en")
_LOGS = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


@dataclass(frozen=True)
class DemoPlan:
    configs: tuple[str, ...]
    raw_dir: Path
    config_dir: Path


def _say(message: str) -> None:
    print(f"\n=== demo: {message}", file=sys.stderr, flush=True)


def plan(settings, configs: tuple[str, ...]) -> DemoPlan:
    from mt_assets.db.files import project_file

    config_dir = settings.config_dir if "MT_CONFIG_DIR" in os.environ else project_file("configs")
    missing = [c for c in configs if not (config_dir / f"{c}.yaml").exists()]
    if missing:
        raise SystemExit(f"mt-assets demo: no config file for {', '.join(missing)} in {config_dir}")
    return DemoPlan(configs, settings.raw_dir, config_dir)


def run(settings, configs: tuple[str, ...] = DEMO_CONFIGS) -> int:
    import dagster as dg

    from mt_assets.dagster_home import environment
    from mt_assets.db.connection import ready_database_url
    from mt_assets.sample_data import build_quran

    demo = plan(settings, configs)
    started = time.monotonic()
    _say("starting PostgreSQL")
    settings = replace(settings, config_dir=demo.config_dir)
    os.environ.update(environment(settings, ready_database_url(settings)))

    _say(f"writing the Quran sample data to {demo.raw_dir}")
    build_quran(demo.raw_dir)

    from mt_assets.definitions import defs

    with dg.DagsterInstance.get() as instance:
        steps = [("prepare_data", None)] + [("experiment", c) for c in demo.configs] + [("refresh_leaderboard", None)]
        for number, (job_name, partition) in enumerate(steps, 1):
            label = job_name + (f" [{partition}]" if partition else "")
            _say(f"step {number}/{len(steps)}: {label} (elapsed {time.monotonic() - started:.0f} s)")
            result = defs.resolve_job_def(job_name).execute_in_process(
                instance=instance, partition_key=partition, run_config=_LOGS, raise_on_error=False
            )
            if not result.success:
                _say(f"{label} failed (run {result.run_id}); see it in the UI: mt-assets dev")
                return 1

    from mt_assets.cli import cmd_leaderboard

    _say(f"done in {(time.monotonic() - started) / 60:.1f} min. Leaderboard:")
    cmd_leaderboard(None, settings)
    print("\nOpen the Dagster UI with every run, asset and score: mt-assets dev  (then http://127.0.0.1:3000)")
    return 0
