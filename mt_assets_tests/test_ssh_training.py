"""The real training entry point run over SSH (the "remote" is this machine): events streamed while
it runs, the artefact downloaded and verified, a job that died relaunched from its checkpoint,
cancellation, and the secret nowhere on disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mt_assets.event_lines import parse_event
from mt_assets.launchers.ssh_training import RemoteJobLayout, run_remote_training, training_argv
from mt_assets.remote.connection import Backoff
from mt_assets.remote.process import RemoteProcess
from mt_assets.remote.session import SSHSession
from mt_assets_tests import tiny_models
from mt_assets_tests.sshd import SSHServer, running_sshd

PY = sys.executable  # the "remote" is this machine: its Python has every dependency


@pytest.fixture(scope="module")
def sshd_server() -> Iterator[SSHServer]:
    with running_sshd() as server:
        yield server


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_models.tiny_llama(tmp_path_factory.mktemp("tiny") / "llama")


@pytest.fixture
def session(sshd_server: SSHServer) -> Iterator[SSHSession]:
    with SSHSession(sshd_server.target(), backoff=Backoff(attempts=4, initial=0.05)) as s:
        yield s


def _job(tmp_path: Path, model_dir: Path, **args):
    training_args = {"max_steps": 4, "save_steps": 2, "logging_steps": 1, "per_device_train_batch_size": 4,
                     "seed": 1, **args}
    return tiny_models.job(tmp_path, model_dir, job_id="tiny-" + uuid.uuid4().hex[:8],
                           training_args=training_args)


@pytest.mark.slow  # two trainer start-ups (torch + transformers imports) on the "remote"
def test_tiny_model_trains_over_ssh_survives_its_host_dying_and_the_artefact_is_verified(
    session: SSHSession, model_dir: Path, tmp_path: Path
) -> None:
    secret = "hf_" + uuid.uuid4().hex
    job = _job(tmp_path, model_dir, max_steps=10, save_steps=1)
    layout = RemoteJobLayout.for_job(session, job.job_id)
    lines: list[str] = []
    killed: list[int] = []

    def on_line(line: str) -> None:
        lines.append(line)
        event = parse_event(line)
        if not killed and event and event["event"] == "checkpoint":
            # as if the runtime were recycled: supervisor and trainer gone, no exit code written
            supervisor_pid, child_pid = map(int, Path(layout.dir, "run.pid").read_text().split())
            os.kill(supervisor_pid, signal.SIGKILL)
            os.kill(child_pid, signal.SIGKILL)
            killed.append(event["step"])

    outcome = run_remote_training(session, job, local_output_dir=tmp_path / "local", wheel_cache_dir=tmp_path,
                                  env={"HF_TOKEN": secret}, on_line=on_line, python=PY, poll_interval=0.1)
    assert killed, "the job finished before a checkpoint event was seen"
    assert outcome.status.succeeded and not outcome.cancelled and outcome.relaunches == 1
    assert outcome.result.resumed_from is not None and outcome.result.global_step == 10
    kinds = [e["event"] for e in map(parse_event, lines) if e]
    assert kinds.count("start") == 2 and kinds[-1] == "done" and kinds.count("log") >= 10
    final = Path(outcome.result.artefact_dir)
    assert final == tmp_path / "local" / "final" and any(final.iterdir())
    assert "result.json" in outcome.manifest
    assert not any(rel.startswith("checkpoint-") for rel in outcome.manifest)  # checkpoints stay remote
    remote_files = [p for p in Path(layout.dir).rglob("*") if p.is_file()]
    assert Path(layout.spec) in remote_files
    assert oct(Path(layout.spec).stat().st_mode & 0o777) == "0o600"
    for path in remote_files:
        assert secret.encode() not in path.read_bytes(), path


def test_cancel_stops_the_remote_training(session: SSHSession, model_dir: Path, tmp_path: Path) -> None:
    job = _job(tmp_path, model_dir, max_steps=100000)
    outcome = run_remote_training(session, job, local_output_dir=tmp_path / "local", wheel_cache_dir=tmp_path,
                                  should_cancel=lambda: True, python=PY, poll_interval=0.1, cancel_grace=10)
    assert outcome.cancelled and outcome.result is None
    assert (outcome.status.state, outcome.status.exit_code) == ("exited", -signal.SIGTERM)
    assert not (tmp_path / "local").exists()


def test_an_interrupt_cancels_the_remote_training_and_propagates(
    session: SSHSession, model_dir: Path, tmp_path: Path
) -> None:
    job = _job(tmp_path, model_dir, max_steps=100000)

    def terminated_from_the_ui() -> bool:
        raise KeyboardInterrupt  # what a Dagster run termination looks like inside the step

    with pytest.raises(KeyboardInterrupt):
        run_remote_training(session, job, local_output_dir=tmp_path / "local", wheel_cache_dir=tmp_path,
                            should_cancel=terminated_from_the_ui, python=PY, poll_interval=0.1, cancel_grace=10)
    status = RemoteProcess(session, RemoteJobLayout.for_job(session, job.job_id).dir).status()
    assert (status.state, status.exit_code) == ("exited", -signal.SIGTERM)


def test_accelerate_command_for_several_gpus() -> None:
    assert training_argv("/v/bin/python", "/w/jobs/j/job.json") == [
        "/v/bin/python", "-m", "mt_assets.training", "/w/jobs/j/job.json"]
    argv = training_argv("/v/bin/python", "/w/jobs/j/job.json", num_processes=4)
    assert argv == ["/v/bin/python", "-m", "accelerate.commands.launch", "--num_processes", "4",
                    "-m", "mt_assets.training", "/w/jobs/j/job.json"]
    # the installed accelerate accepts exactly these options
    help_text = subprocess.run([PY, *argv[1:3], "--help"], capture_output=True, text=True, check=True).stdout
    assert "--num_processes" in help_text and "--module" in help_text
    with pytest.raises(ValueError):
        training_argv("/v/bin/python", "/w/job.json", num_processes=0)
    with pytest.raises(ValueError):
        training_argv("python; id", "/w/job.json")
