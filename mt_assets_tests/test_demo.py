"""`mt-assets demo` without training: what --full plans, its help, and the progress lines
the demo's console shows while a model trains."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mt_assets import demo
from mt_assets.db.files import project_file
from mt_assets.settings import Settings
from mt_assets.training.progress import TrainingProgress, total_steps
from mt_assets.tuning.config import config_files, load_config_file


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.delenv("MT_CONFIG_DIR", raising=False)  # the demo then reads the project's configs/
    monkeypatch.setenv("MT_HOME", str(tmp_path / "home"))
    return Settings.from_env()


def test_quick_plan_runs_the_configs_as_written(settings):
    plan = demo.plan(settings, demo.DEMO_CONFIGS)
    assert plan.configs == demo.DEMO_CONFIGS and not plan.full
    assert plan.config_dir == project_file("configs")
    assert not (settings.home / "demo").exists(), "the quick run writes no configs"


def test_full_plan_writes_derived_configs_with_the_overrides_only(settings):
    plan = demo.plan(settings, demo.DEMO_CONFIGS)
    full = demo.plan(settings, demo.DEMO_CONFIGS, full=True)
    assert full.full and full.configs == ("gemma3-270m-lora-ar-en-full", "gemma3-270m-lora-fa-en-full")
    assert full.config_dir == settings.home / "demo" / "configs-full"
    assert [p.name for p in config_files(full.config_dir)] == [f"{n}.yaml" for n in full.configs]

    for base_name, full_name in zip(plan.configs, full.configs, strict=True):
        base = load_config_file(plan.config_dir / f"{base_name}.yaml").config
        derived = load_config_file(full.config_dir / f"{full_name}.yaml").config
        assert derived.name == full_name
        assert derived.llm_tuning_configs.training_args["max_steps"] == 600 > base.llm_tuning_configs.training_args["max_steps"]
        assert derived.data.max_train_rows == 4800 > base.data.max_train_rows
        assert derived.data.test_size == 0.05 > base.data.test_size
        # Everything else is the base file's: model, template, languages, seed, LoRA, generation.
        strip = {"name", "description", "sha256"}
        b, d = base.model_dump(exclude=strip), derived.model_dump(exclude=strip)
        b["data"].pop("max_train_rows"), d["data"].pop("max_train_rows")
        b["data"].pop("test_size"), d["data"].pop("test_size")
        b["llm_tuning_configs"]["training_args"].pop("max_steps")
        d["llm_tuning_configs"]["training_args"].pop("max_steps")
        assert b == d

    # Planning again (or for fewer configs) leaves exactly the planned files.
    again = demo.plan(settings, demo.DEMO_CONFIGS[:1], full=True)
    assert [p.stem for p in config_files(again.config_dir)] == list(again.configs) == ["gemma3-270m-lora-ar-en-full"]


def test_unknown_config_is_refused_before_anything_runs(settings):
    with pytest.raises(demo.DemoError, match="no config file for nope"):
        demo.plan(settings, ("nope",), full=True)
    assert not (settings.home / "demo").exists()


def test_cli_accepts_full_and_documents_both_sizes():
    from mt_assets.cli import build_parser

    args = build_parser().parse_args(["demo", "--full"])
    assert args.full and args.func.__name__ == "cmd_demo"
    assert not build_parser().parse_args(["demo"]).full
    shown = subprocess.run(
        [sys.executable, "-m", "mt_assets.cli", "demo", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for text in ("--full", "quick (default)", "80 LoRA steps", "max_steps 600", "max_train_rows 4800",
                 "test_size 0.05", "MT_HOME/demo/configs-full"):
        assert text in shown


def test_total_steps():
    assert total_steps({"max_steps": 150}, 1200) == 150
    assert total_steps({"per_device_train_batch_size": 8, "num_train_epochs": 2}, 100) == 26
    assert total_steps({}, 17) == 9  # transformers' defaults: 3 epochs of batch 8
    assert total_steps({}, 0) is None


def test_progress_lines_give_step_loss_and_eta():
    times = iter([100.0, 130.0, 160.0, 400.0])
    progress = TrainingProgress(150, clock=lambda: next(times))
    assert progress.line({"event": "start", "resume_from": None}) is None  # t = 100, step 0
    first = progress.line({"event": "log", "step": 10, "loss": 3.58499, "tokens_per_second": 75.4})
    assert first == "training: step 10/150 (7%), loss 3.5850, 75 tokens/s, ETA 7 min"  # 3 s/step x 140
    assert progress.line({"event": "checkpoint", "step": 10}) is None
    second = progress.line({"event": "log", "step": 20, "loss": 3.2, "eval_loss": 3.1})
    assert second == "training: step 20/150 (13%), loss 3.2000, eval_loss 3.1000, ETA 6 min"  # 3 s/step x 130 = 390 s
    last = progress.line({"event": "log", "step": 150, "loss": 2.0})
    assert last == "training: step 150/150 (100%), loss 2.0000"


def test_resumed_job_measures_its_pace_from_its_first_step():
    times = iter([0.0, 50.0, 60.0])
    progress = TrainingProgress(None, clock=lambda: next(times))
    progress.line({"event": "start", "resume_from": "/x/checkpoint-100"})
    assert progress.line({"event": "log", "step": 110, "loss": 1.0}) == "training: step 110, loss 1.0000"
    resumed = TrainingProgress(200, clock=lambda: next(iter([0.0])))
    assert resumed.line({"event": "log", "step": 110}) == "training: step 110/200 (55%)"  # no pace yet
