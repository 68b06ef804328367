"""`mt-assets demo`: the whole product on real data and a real model, through a real
Dagster instance on PostgreSQL — the same jobs a user launches from the UI.

Two sizes, from the same YAML files:
- quick (default): the configs as written in configs/ — Gemma 3 270M + LoRA, 80 steps of 8
  (at most 640 train verses), ~100 test verses per language;
- `--full`: derived configs named `<config>-full`, written to MT_HOME/demo/configs-full with
  FULL_OVERRIDES applied (600 steps of 8 over at most 4,800 train verses, ~300 test verses).
  Their own names keep both sizes' results side by side in the leaderboard.

`mt-assets demo` runs this module (`python -m mt_assets.demo`) as the child of
mt_assets.supervise.Supervisor, which stops it, and every process it starts, on SIGINT, SIGTERM
and SIGHUP; the child sees the stop as KeyboardInterrupt and exits with 130.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

DEMO_CONFIGS = ("gemma3-270m-lora-ar-en", "gemma3-270m-lora-fa-en")
FULL_SUFFIX = "-full"
# (section path, key) -> value, applied to each demo config for --full.
FULL_OVERRIDES: dict[tuple[str, ...], Any] = {
    ("llm_tuning_configs", "training_args", "max_steps"): 600,  # 7.5x the quick run's 80 optimizer steps
    ("data", "max_train_rows"): 4800,  # 600 steps x batch 8: one pass, 7.5x the quick run's verses
    ("data", "test_size"): 0.05,  # ~300 test verses instead of ~100: tighter confidence intervals
}
SIZES_HELP = """\
sizes (Gemma 3 270M + LoRA on the Quran sample, Arabic and Persian to English):
  quick (default)  the configs/ files as written: 80 LoRA steps of batch 8 over at most
                   640 train verses, ~100 test verses per language (test_size 0.016)
  --full           the same files with max_steps 600, max_train_rows 4800 and test_size 0.05
                   (~300 test verses), run as <config>-full: about 7x the quick run's training
                   time and 3x its translation time. The derived configs are written to
                   MT_HOME/demo/configs-full. Both sizes stay side by side in the leaderboard;
                   they are scored on different test sets, so compare rows of one size.
"""
_LOGS = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


class DemoError(Exception):
    """A demo that cannot start as asked (a config missing, a derived config invalid)."""


@dataclass(frozen=True)
class DemoPlan:
    configs: tuple[str, ...]  # partitions to run, in order
    raw_dir: Path
    config_dir: Path  # what tuning_configs reads (MT_CONFIG_DIR for the demo's runs)
    full: bool = False


def _say(message: str) -> None:
    print(f"\n=== demo: {message}", file=sys.stderr, flush=True)


def full_config(raw: dict[str, Any], overrides: dict[tuple[str, ...], Any] = FULL_OVERRIDES) -> dict[str, Any]:
    """The --full variant of one config mapping: renamed with FULL_SUFFIX, overrides applied."""
    import copy

    out = copy.deepcopy(raw)
    out["name"] = f"{raw['name']}{FULL_SUFFIX}"
    out["description"] = f"{raw.get('description', raw['name'])} [demo --full]"
    for path, value in overrides.items():
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return out


def write_full_configs(base_dir: Path, names: tuple[str, ...], out_dir: Path) -> tuple[str, ...]:
    """Write `<name>-full.yaml` for each base config into out_dir (which holds only these),
    validated like any config file; returns the derived names."""
    import yaml

    from mt_assets.tuning.config import config_files, load_config_file

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        derived = full_config(yaml.safe_load((base_dir / f"{name}.yaml").read_text(encoding="utf-8")))
        path = out_dir / f"{derived['name']}.yaml"
        header = (
            f"# Written by `mt-assets demo --full` from {base_dir / name}.yaml; edits here are overwritten.\n"
        )
        path.write_text(header + yaml.safe_dump(derived, sort_keys=False, allow_unicode=True), encoding="utf-8")
        loaded = load_config_file(path)
        if not loaded.ok:
            raise DemoError("mt-assets demo --full: derived config is invalid:\n" + "\n".join(loaded.errors))
        written.append(path)
    for stale in set(config_files(out_dir)) - set(written):
        stale.unlink()
    return tuple(p.stem for p in written)


def plan(settings, configs: tuple[str, ...], full: bool = False) -> DemoPlan:
    from mt_assets.db.files import project_file

    config_dir = settings.config_dir if "MT_CONFIG_DIR" in os.environ else project_file("configs")
    missing = [c for c in configs if not (config_dir / f"{c}.yaml").exists()]
    if missing:
        raise DemoError(f"mt-assets demo: no config file for {', '.join(missing)} in {config_dir}")
    if not full:
        return DemoPlan(configs, settings.raw_dir, config_dir)
    out_dir = settings.home / "demo" / "configs-full"
    return DemoPlan(write_full_configs(config_dir, configs, out_dir), settings.raw_dir, out_dir, full=True)


def run(settings, configs: tuple[str, ...] = DEMO_CONFIGS, full: bool = False) -> int:
    import dagster as dg

    from mt_assets.dagster_home import environment
    from mt_assets.db.connection import ready_database_url
    from mt_assets.sample_data import build_quran

    demo = plan(settings, configs, full)
    started = time.monotonic()
    size = "full" if demo.full else "quick"
    _say(f"{size} run of {', '.join(demo.configs)} (configs from {demo.config_dir})")
    # Dagster Pipes' preview notice would otherwise interrupt every training step's output.
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
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

    from mt_assets.db.connection import ready_database_url
    from mt_assets.evaluation.terminal import print_leaderboard

    _say(f"done in {(time.monotonic() - started) / 60:.1f} min. Leaderboard:")
    print_leaderboard(ready_database_url(settings))
    print("\nOpen the Dagster UI with every run, asset and score: mt-assets dev  (then http://127.0.0.1:3000)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m mt_assets.demo [--full] CONFIG...`: what `mt-assets demo` runs as its child."""
    import argparse

    from mt_assets.db import DatabaseError
    from mt_assets.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m mt_assets.demo")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("configs", nargs="+")
    args = parser.parse_args(argv)
    try:
        return run(Settings.from_env(), tuple(args.configs), full=args.full)
    except DatabaseError as err:
        print(f"mt-assets: error: {err}", file=sys.stderr)
        return 1
    except DemoError as err:  # its message names the command and what to fix
        print(err, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        _say("stopped by a signal")
        return 128 + signal.SIGINT


if __name__ == "__main__":
    sys.exit(main())
