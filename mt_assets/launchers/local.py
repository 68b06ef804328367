"""Train and translate in a subprocess on this machine.

Training reports through Dagster Pipes: Pipes carries each event into the run log as it
happens; we poll the session's custom messages while the process runs so `on_event` (the
database writes) keeps pace too. Translation prints one JSON event per line on stdout, read
and forwarded line by line as the process writes them. Either process runs in its own process
group and is stopped (SIGTERM, then SIGKILL) when the caller is interrupted or fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from mt_assets.event_lines import parse_event
from mt_assets.launchers.base import Event, Launcher, TrainingFailed, TranslationFailed
from mt_assets.training.spec import JOB_FILE, RESULT_FILE, TrainingJob, TrainingResult
from mt_assets.translation.spec import TranslationJob

_STDERR_TAIL = 20


class LocalLauncher(Launcher):
    python: str | None = None  # interpreter for the training process; default: this one
    poll_seconds: float = 0.5

    def train(
        self, context: dg.AssetExecutionContext, job: TrainingJob, on_event: Callable[[Event], None]
    ) -> TrainingResult:
        job_file = job.write(job.train_file.parent / JOB_FILE)
        log_file = job.train_file.parent / "train.log"
        command = [self.python or sys.executable, "-m", "mt_assets.training", str(job_file)]
        seen = 0

        def forward(messages) -> None:
            nonlocal seen
            for message in messages[seen:]:
                if isinstance(message, dict) and "event" in message:
                    on_event(message)
            seen = len(messages)

        with (
            dg.open_pipes_session(
                context=context,
                context_injector=dg.PipesTempFileContextInjector(),
                message_reader=dg.PipesTempFileMessageReader(),
            ) as session,
            log_file.open("w") as log,
        ):
            process = subprocess.Popen(
                command,
                env={**os.environ, **session.get_bootstrap_env_vars()},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # so stopping it also stops any workers it starts
            )
            try:
                while process.poll() is None:
                    forward(session.get_custom_messages())
                    time.sleep(self.poll_seconds)
            finally:
                _stop(process)
        messages = session.get_custom_messages()
        forward(messages)
        if process.returncode != 0:
            errors = [m["message"] for m in messages if isinstance(m, dict) and m.get("event") == "error"]
            reason = (
                errors[-1] if errors else f"exit status {process.returncode}; last lines:\n{_tail(log_file)}"
            )
            raise TrainingFailed(f"training job {job.job_id} failed: {reason} (log: {log_file})")
        return TrainingResult.read(job.output_dir / RESULT_FILE)

    def translate(
        self, context: dg.AssetExecutionContext, job: TranslationJob, on_event: Callable[[Event], None]
    ) -> None:
        work = job.input_file.parent
        job_file = job.write(work / "job.json")
        err_file = work / "translate.err"
        command = [self.python or sys.executable, "-m", "mt_assets.translation", str(job_file)]
        context.log.debug(f"{job.method}: running {' '.join(command)}")
        errors: list[str] = []
        with err_file.open("w") as err:
            process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=err,
                stdin=subprocess.DEVNULL,
                text=True,
                encoding="utf-8",
                start_new_session=True,
            )
            try:
                assert process.stdout is not None
                for line in process.stdout:  # the entry point flushes after every event
                    event = parse_event(line.rstrip("\n"))
                    if event is None:
                        continue
                    if event["event"] == "error":
                        errors.append(str(event.get("message")))
                    on_event(event)
                process.wait()
            finally:
                _stop(process)
                if process.stdout is not None:
                    process.stdout.close()
        if process.returncode != 0:
            tail = f"exit status {process.returncode}; last lines of stderr:\n{_tail(err_file)}"
            reason = errors[-1] if errors else tail
            raise TranslationFailed(f"translation {job.method} failed: {reason} (stderr: {err_file})")


def _stop(process: subprocess.Popen) -> None:
    """A run that is cancelled must not leave training or translation running behind it."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _tail(path: Path) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-_STDERR_TAIL:])
