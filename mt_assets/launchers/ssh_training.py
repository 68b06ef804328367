"""One training job on an SSH host, end to end: bundle, virtualenv, detached start, streamed
events, relaunch after the remote job died, cancel, verified download of the artefact.

This is everything an `SSHLauncher` needs except Dagster: the launcher passes callbacks that forward
lines to the run log / `llm.training_logs` and report cancellation, then registers the result. The
transport it drives is `mt_assets.remote`, which knows no training or translation job.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from mt_assets.models.artefacts import directory_sha256
from mt_assets.remote.bundle import download_tree, job_dir, upload_bundle
from mt_assets.remote.commands import remote_join, validate_remote_path
from mt_assets.remote.errors import ChecksumError, RemoteError
from mt_assets.remote.process import ProcessStatus, RemoteProcess
from mt_assets.remote.session import SSHSession
from mt_assets.remote.venv import job_python
from mt_assets.training.spec import (
    FINAL_DIR,
    JOB_FILE,
    RESULT_FILE,
    TRAIN_FILE,
    VALIDATION_FILE,
    TrainingJob,
    TrainingResult,
)

log = logging.getLogger(__name__)

OUTPUT_DIR = "output"


class RemoteTrainingError(RemoteError):
    """The remote training ended without a usable artefact."""


@dataclass(frozen=True)
class RemoteJobLayout:
    dir: str  # absolute <workdir>/jobs/<job_id>
    spec: str
    output: str
    models_cache: str  # shared by the host's jobs: a converted GGUF model is reused

    @classmethod
    def for_job(cls, session: SSHSession, job_id: str) -> RemoteJobLayout:
        workdir = session.absolute(session.target.workdir)
        directory = job_dir(workdir, job_id)
        return cls(directory, f"{directory}/{JOB_FILE}", f"{directory}/{OUTPUT_DIR}",
                   remote_join(workdir, "models"))


def remote_spec(job: TrainingJob, layout: RemoteJobLayout) -> TrainingJob:
    """The job as the remote sees it: every path rewritten into the job directory. `llm_model` is
    kept: a hub id or pypi: package resolves on the remote; a local directory must exist there too."""
    return job.model_copy(update={
        "train_file": Path(f"{layout.dir}/{TRAIN_FILE}"),
        "validation_file": Path(f"{layout.dir}/{VALIDATION_FILE}") if job.validation_file else None,
        "output_dir": Path(layout.output),
        "models_cache_dir": Path(layout.models_cache),
    })


def training_argv(python: str, spec_path: str, num_processes: int = 1) -> list[str]:
    """The entry point, under `accelerate launch` when several processes (GPUs) are asked for; the
    training code is the same either way."""
    validate_remote_path(python, "remote python")
    validate_remote_path(spec_path, "job spec path")
    if num_processes < 1:
        raise ValueError(f"num_processes must be >= 1, got {num_processes}")
    if num_processes == 1:
        return [python, "-m", "mt_assets.training", spec_path]
    return [python, "-m", "accelerate.commands.launch", "--num_processes", str(num_processes),
            "-m", "mt_assets.training", spec_path]


@dataclass(frozen=True)
class RemoteTrainingResult:
    status: ProcessStatus
    cancelled: bool
    relaunches: int
    reconnects: int
    result: TrainingResult | None  # with artefact_dir pointing at the local copy
    local_output: Path | None
    manifest: dict[str, str]  # downloaded files, relative to local_output, with their verified sha256
    stderr_tail: str  # the end of the remote stderr, for the error message when status is not success


def run_remote_training(
    session: SSHSession,
    job: TrainingJob,
    *,
    local_output_dir: Path,
    wheel_cache_dir: Path,
    env: Mapping[str, str | SecretStr] | None = None,
    on_line: Callable[[str], None] = lambda line: None,
    should_cancel: Callable[[], bool] = lambda: False,
    num_processes: int = 1,
    install_dependencies: bool = True,
    python: str | None = None,
    poll_interval: float = 2.0,
    max_relaunches: int = 2,
    cancel_grace: float = 30.0,
) -> RemoteTrainingResult:
    """Run `job` on the session's host and bring its artefact back into `local_output_dir`.

    `python` skips the wheel and virtualenv steps (a remote Python that already has this package).
    A still-running remote job of the same id is re-attached, not restarted (its log is replayed from the
    start); a job that died with its host is relaunched (the trainer resumes from its newest checkpoint)
    up to `max_relaunches` times. `should_cancel()` true, or an interrupt such as Dagster's run
    termination (a BaseException), cancels the remote job; other errors leave it running.
    """
    layout = RemoteJobLayout.for_job(session, job.job_id)
    if python is None:
        python = job_python(session, wheel_cache_dir, install_dependencies)
    with tempfile.TemporaryDirectory(prefix="mt-remote-job-") as tmp:
        files = {JOB_FILE: remote_spec(job, layout).write(Path(tmp) / JOB_FILE), TRAIN_FILE: job.train_file}
        if job.validation_file:
            files[VALIDATION_FILE] = job.validation_file
        process = RemoteProcess(session, layout.dir)
        current = process.status()
        if not current.running:
            upload_bundle(session, layout.dir, files)
    argv = training_argv(python, layout.spec, num_processes)
    offset = 0
    relaunches = 0
    if current.running:
        log.info("re-attaching to the running remote job %s", layout.dir)
    else:
        offset = process.tail_size()
        process = RemoteProcess.start(session, layout.dir, argv, env=env)
    while True:
        try:
            for line in process.follow(offset, poll_interval=poll_interval, should_stop=should_cancel):
                offset = line.end_offset
                on_line(line.text)
        except Exception:
            raise  # e.g. the host unreachable for good: the remote job keeps running, a re-run re-attaches
        except BaseException:
            # an interrupt (Ctrl-C, Dagster's run termination) means "stop": the remote job must stop too
            log.warning("interrupted: cancelling the remote job %s", layout.dir)
            process.cancel(grace=cancel_grace)
            raise
        if should_cancel():
            final = process.cancel(grace=cancel_grace)
            return RemoteTrainingResult(final, True, relaunches, session.reconnects, None, None, {}, "")
        final = process.status()
        if final.state == "died" and relaunches < max_relaunches:
            relaunches += 1
            log.warning("remote job %s died without an exit code; relaunching (%d/%d) from its newest checkpoint",
                        layout.dir, relaunches, max_relaunches)
            offset = process.tail_size()
            process = RemoteProcess.start(session, layout.dir, argv, env=env)
            continue
        break
    if not final.succeeded:
        return RemoteTrainingResult(final, False, relaunches, session.reconnects, None, None, {},
                                    process.stderr_tail())
    manifest = download_tree(session, layout.output, local_output_dir,
                             include=lambda rel: rel == RESULT_FILE or rel.startswith(FINAL_DIR + "/"))
    return RemoteTrainingResult(final, False, relaunches, session.reconnects,
                                _local_result(local_output_dir), local_output_dir, manifest, "")


def _local_result(local_output_dir: Path) -> TrainingResult:
    result_path = local_output_dir / RESULT_FILE
    if not result_path.is_file():
        raise RemoteTrainingError(f"the remote job exited 0 but wrote no {RESULT_FILE}")
    result = TrainingResult.read(result_path)
    final = local_output_dir / FINAL_DIR
    _, digest = directory_sha256(final)
    if digest != result.artefact_sha256:
        raise ChecksumError(f"artefact {final} has sha256 {digest}, the remote trainer reported "
                            f"{result.artefact_sha256}")
    return dataclasses.replace(result, artefact_dir=str(final))
