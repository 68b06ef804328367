"""One translation job on an SSH host: upload the job, its input rows and (when they are local
directories) the model and adapter, run `python -m mt_assets.translation` detached, and stream its
event lines back as they are written. Every output row is a `translation` event, so nothing is
downloaded at the end.

Like `launchers.ssh_training` for training, this is everything the `SSHLauncher` needs except Dagster;
the transport it drives is `mt_assets.remote`.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from mt_assets.models.artefacts import directory_sha256
from mt_assets.remote.bundle import (
    ensure_remote_dir,
    remote_manifest,
    upload_bundle,
)
from mt_assets.remote.commands import remote_join, validate_name, validate_remote_path
from mt_assets.remote.errors import RemoteError
from mt_assets.remote.process import ProcessStatus, RemoteProcess
from mt_assets.remote.session import SSHSession
from mt_assets.remote.venv import job_python
from mt_assets.translation.spec import TranslationJob

log = logging.getLogger(__name__)

SPEC_FILE = "job.json"
INPUT_FILE = "input.jsonl"


class RemoteTranslationError(RemoteError):
    """The remote translation could not be set up (e.g. a model directory that cannot be uploaded)."""


@dataclass(frozen=True)
class RemoteTranslationLayout:
    dir: str  # absolute <workdir>/translations/<job id>
    spec: str
    input: str
    models_cache: str  # <workdir>/models, shared with training: a converted GGUF model is reused
    uploads: str  # <workdir>/uploads/<sha256[:16]>: local model and adapter directories, content-keyed

    @classmethod
    def for_job(cls, session: SSHSession, job_id: str) -> RemoteTranslationLayout:
        workdir = session.absolute(session.target.workdir)
        directory = remote_join(workdir, "translations", validate_name(job_id, "translation job id"))
        return cls(directory, f"{directory}/{SPEC_FILE}", f"{directory}/{INPUT_FILE}",
                   remote_join(workdir, "models"), remote_join(workdir, "uploads"))


def translation_job_id(job: TranslationJob) -> str:
    """A safe remote directory name, the same for the same job and rows (so a re-run while the remote
    job still runs re-attaches to it) and different otherwise."""
    digest = hashlib.sha256(job.model_dump_json().encode())
    digest.update(job.input_file.read_bytes())
    method = "".join(c if c.isalnum() or c in "._-" else "-" for c in job.method).strip("-._")[:80]
    return f"{method or 'translation'}-{digest.hexdigest()[:16]}"


def upload_directory(session: SSHSession, local: Path, uploads_dir: str) -> str:
    """`local` (a model or adapter directory) under `uploads_dir/<sha256[:16]>`, uploaded only when the
    remote copy is missing or differs; every file verified against a remotely computed sha256."""
    if not local.is_dir():
        raise RemoteTranslationError(f"{local} is not a directory")
    files, digest = directory_sha256(local)
    remote = remote_join(uploads_dir, digest[:16])
    if _remote_files(session, remote) == files:
        return remote
    by_dir: dict[str, dict[str, Path]] = {}
    for rel in files:
        parent, _, name = rel.rpartition("/")
        by_dir.setdefault(parent, {})[name] = local / rel
    session.call(lambda s: ensure_remote_dir(s.sftp, remote))
    for parent, members in sorted(by_dir.items()):
        target = remote_join(remote, *parent.split("/")) if parent else remote
        upload_bundle(session, target, members)
    return remote


def _remote_files(session: SSHSession, remote: str) -> dict[str, str]:
    """Complete files under `remote` with their sha256; {} when it does not exist (the hash script
    walks nothing), so no separate existence check."""
    return {rel: sha for rel, sha in session.call(lambda s: remote_manifest(s, remote)).items()
            if not rel.endswith(".part")}


def remote_spec(session: SSHSession, job: TranslationJob, layout: RemoteTranslationLayout) -> TranslationJob:
    """The job as the remote sees it: input and caches in the remote layout, and local model and adapter
    directories uploaded (a hub id, gguf: or pypi: source resolves on the remote itself)."""
    update: dict[str, object] = {"input_file": Path(layout.input), "models_cache_dir": Path(layout.models_cache)}
    source = Path(job.llm_model).expanduser()
    if source.is_dir():
        update["llm_model"] = upload_directory(session, source, layout.uploads)
    if job.adapter_dir is not None:
        update["adapter_dir"] = Path(upload_directory(session, job.adapter_dir, layout.uploads))
    return job.model_copy(update=update)


def translation_argv(python: str, spec_path: str) -> list[str]:
    validate_remote_path(python, "remote python")
    validate_remote_path(spec_path, "job spec path")
    return [python, "-m", "mt_assets.translation", spec_path]


@dataclass(frozen=True)
class RemoteTranslationResult:
    status: ProcessStatus
    cancelled: bool
    reconnects: int
    stderr_tail: str  # the end of the remote stderr, for the error message when status is not success


def run_remote_translation(
    session: SSHSession,
    job: TranslationJob,
    *,
    wheel_cache_dir: Path,
    env: Mapping[str, str | SecretStr] | None = None,
    on_line: Callable[[str], None] = lambda line: None,
    should_cancel: Callable[[], bool] = lambda: False,
    install_dependencies: bool = True,
    python: str | None = None,
    poll_interval: float = 1.0,
    cancel_grace: float = 30.0,
) -> RemoteTranslationResult:
    """Translate `job` on the session's host, calling `on_line` for each line the remote process prints
    (one JSON event per line), as it is written.

    `python` skips the wheel and virtualenv steps (a remote Python that already has this package). A
    still-running remote job with the same id (same job, same rows) is re-attached and its output replayed
    from the start, so callers de-duplicate. Dropped connections reconnect and resume at the byte offset.
    `should_cancel()` true, or an interrupt such as Dagster's run termination (a BaseException), cancels
    the remote process; other errors leave it running. A remote process that died (host reboot, OOM kill)
    is not relaunched: the rows it delivered are kept and a re-run translates the rest.
    """
    layout = RemoteTranslationLayout.for_job(session, translation_job_id(job))
    if python is None:
        python = job_python(session, wheel_cache_dir, install_dependencies)
    process = RemoteProcess(session, layout.dir)
    current = process.status()
    offset = 0
    if current.running:
        log.info("re-attaching to the running remote translation %s", layout.dir)
    else:
        with tempfile.TemporaryDirectory(prefix="mt-remote-translation-") as tmp:
            spec = remote_spec(session, job, layout).write(Path(tmp) / SPEC_FILE)
            upload_bundle(session, layout.dir, {SPEC_FILE: spec, INPUT_FILE: job.input_file})
        offset = process.tail_size()
        process = RemoteProcess.start(session, layout.dir, translation_argv(python, layout.spec), env=env)
    try:
        for line in process.follow(offset, poll_interval=poll_interval, should_stop=should_cancel):
            try:
                on_line(line.text)
            except Exception:
                # our side failed (e.g. storing rows): translating on would only be lost work
                log.warning("cancelling the remote translation %s: handling its output failed", layout.dir)
                try:
                    process.cancel(grace=cancel_grace)
                except RemoteError as exc:  # keep the original error; this one only explains a leftover
                    log.warning("could not cancel the remote translation %s: %s", layout.dir, exc)
                raise
    except Exception:
        raise  # e.g. the host unreachable for good: the remote job keeps running, a re-run re-attaches
    except BaseException:
        log.warning("interrupted: cancelling the remote translation %s", layout.dir)
        process.cancel(grace=cancel_grace)
        raise
    if should_cancel():
        return RemoteTranslationResult(process.cancel(grace=cancel_grace), True, session.reconnects, "")
    final = process.status()
    tail = "" if final.succeeded else process.stderr_tail()
    return RemoteTranslationResult(final, False, session.reconnects, tail)
