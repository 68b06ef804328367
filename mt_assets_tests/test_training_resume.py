"""Checkpoints: resume after a kill, refuse corrupt or foreign ones, fail early on bad jobs."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from mt_assets.training import __main__ as entry_point
from mt_assets.training import checkpoints, trainer
from mt_assets.training.checkpoints import CheckpointError
from mt_assets.training.model import ModelError
from mt_assets_tests.tiny_models import CollectingReporter, job, tiny_m2m100


@pytest.fixture(scope="module")
def m2m_dir(tmp_path_factory):
    return tiny_m2m100(tmp_path_factory.mktemp("tiny-m2m") / "model")


def _entry_point(job_file, **kwargs):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_PIPES")}
    return subprocess.Popen(
        [sys.executable, "-m", "mt_assets.training", str(job_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        **kwargs,
    )


def _events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def test_killed_run_resumes_from_its_newest_complete_checkpoint(m2m_dir, tmp_path):
    spec = job(
        tmp_path,
        m2m_dir,
        training_args={
            "max_steps": 12,
            "save_steps": 2,
            "logging_steps": 1,
            "per_device_train_batch_size": 2,
        },
        validation_file=None,
    )
    job_file = spec.write(tmp_path / "job.json")
    first = _entry_point(job_file, start_new_session=True)
    deadline = time.monotonic() + 120
    while not list(spec.output_dir.glob("checkpoint-*/trainer_state.json")):
        assert first.poll() is None, "training ended before its first checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert not (spec.output_dir / "result.json").exists()

    resumed_at = checkpoints.resume_point(spec.output_dir)
    assert resumed_at is not None
    step = int(resumed_at.name.removeprefix("checkpoint-"))
    # the rerun in-process: same code path after the entry point, one interpreter start less
    reporter = CollectingReporter()
    result = trainer.run(spec, reporter)
    assert reporter.of("start")[0]["resume_from"] == str(resumed_at)
    steps = [e["step"] for e in reporter.of("log") if e["loss"] is not None]
    assert steps == list(range(step + 1, 13))
    assert result.global_step == 12 and result.resumed_from == str(resumed_at)


def test_incomplete_newest_checkpoint_is_skipped(tmp_path):
    good = tmp_path / "checkpoint-2"
    good.mkdir()
    (good / "trainer_state.json").write_text(json.dumps({"global_step": 2}))
    (good / "adapter_model.safetensors").write_bytes(b"x")
    (tmp_path / "checkpoint-4").mkdir()  # killed while saving: no trainer_state.json yet
    assert checkpoints.resume_point(tmp_path) == good


@pytest.mark.parametrize(
    ("state", "weights", "reason"),
    [
        ("{not json", True, "does not parse"),
        (json.dumps({"global_step": 7}), True, "global_step is 7"),
        (json.dumps({"global_step": 2}), False, "no model or adapter weights"),
    ],
)
def test_corrupt_checkpoint_is_refused_not_trained_over(m2m_dir, tmp_path, state, weights, reason):
    spec = job(tmp_path, m2m_dir)
    spec.output_dir.mkdir(parents=True)
    spec.write(spec.output_dir / checkpoints.MARKER)
    bad = spec.output_dir / "checkpoint-2"
    bad.mkdir()
    (bad / "trainer_state.json").write_text(state)
    if weights:
        (bad / "adapter_model.safetensors").write_bytes(b"x")
    with pytest.raises(CheckpointError, match=reason):
        trainer.run(spec, CollectingReporter())
    assert not (spec.output_dir / "final").exists()


def test_foreign_checkpoints_are_refused(m2m_dir, tmp_path):
    spec = job(tmp_path, m2m_dir)
    (spec.output_dir / "checkpoint-3").mkdir(parents=True)
    with pytest.raises(CheckpointError, match="not written by job 'tiny-job'"):
        trainer.run(spec, CollectingReporter())
    other = job(tmp_path, m2m_dir, job_id="other-job")
    other.write(spec.output_dir / checkpoints.MARKER)
    with pytest.raises(CheckpointError, match="belongs to job 'other-job'"):
        trainer.run(spec, CollectingReporter())


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks the CPU refusal")
def test_qlora_on_cpu_is_refused_before_anything_loads(m2m_dir, tmp_path):
    spec = job(tmp_path, m2m_dir, "qlora", llm_model="/nonexistent/model")
    with pytest.raises(ModelError, match="needs a CUDA GPU"):
        trainer.run(spec, CollectingReporter())
    assert not spec.output_dir.exists()


def test_entry_point_reports_a_bad_job_as_an_error_event(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DAGSTER_PIPES_CONTEXT", raising=False)
    bad = tmp_path / "job.json"
    bad.write_text(json.dumps({"job_id": "x", "tuning_methodology": "sgd"}))
    assert entry_point.main([str(bad)]) == 2
    (event,) = _events(capsys.readouterr().out)
    assert event["event"] == "error" and "tuning_methodology" in event["message"]


def test_a_job_already_training_is_refused(m2m_dir, tmp_path):
    spec = job(tmp_path, m2m_dir)
    with checkpoints.claim(spec.output_dir, spec):
        with pytest.raises(CheckpointError, match="already training"):
            trainer.run(spec, CollectingReporter())


@pytest.mark.parametrize("model", ["llama", "m2m100"])
def test_died_after_its_last_checkpoint_takes_no_extra_step(m2m_dir, tmp_path, model):
    """Resumed at max_steps, transformers would train one step more; the last checkpoint's
    weights are the final ones instead."""
    import shutil

    from safetensors.torch import load_file

    from mt_assets_tests.tiny_models import tiny_llama

    model_dir = m2m_dir if model == "m2m100" else tiny_llama(tmp_path / "llama")
    extra = {"source_language_code": "arb_Arab", "target_language_code": "eng_Latn"} if model == "m2m100" else {}
    args = {"max_steps": 4, "save_steps": 1, "logging_steps": 1, "per_device_train_batch_size": 4, "seed": 1}
    tiny = job(tmp_path, model_dir, training_args=args, **extra)
    assert trainer.run(tiny, CollectingReporter()).global_step == 4
    out = tiny.output_dir
    shutil.rmtree(out / trainer.FINAL_DIR)  # as if the job died right after checkpoint-4
    (out / trainer.RESULT_FILE).unlink()

    result = trainer.run(tiny, CollectingReporter())
    assert result.resumed_from == str(out / "checkpoint-4")
    assert result.global_step == 4
    final = load_file(out / trainer.FINAL_DIR / "adapter_model.safetensors")
    last = load_file(out / "checkpoint-4" / "adapter_model.safetensors")
    assert final.keys() == last.keys() and all(final[k].equal(last[k]) for k in final)
