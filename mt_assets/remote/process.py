"""A process started detached on the remote host: it keeps running when the SSH connection drops,
its output is tailed by byte offset (so a reconnect resumes exactly where it stopped), and it can be
cancelled (SIGTERM to its process group, SIGKILL after a grace period).

The remote side is `supervisor.py`, uploaded into the job directory; see its docstring for the files
it keeps (`<name>.pid`, `<name>.rc`, `<name>.log`) and for how secrets reach the process.
"""

from __future__ import annotations

import json
import posixpath
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from mt_assets.remote import supervisor
from mt_assets.remote.bundle import ensure_remote_dir, upload_file
from mt_assets.remote.commands import run, validate_env_name, validate_name, validate_remote_path
from mt_assets.remote.errors import CommandError
from mt_assets.remote.session import SSHSession

SUPERVISOR_NAME = "supervisor.py"
State = Literal["running", "exited", "died", "absent"]


@dataclass(frozen=True)
class ProcessStatus:
    state: State  # absent: never started here; died: gone without an exit code (host reboot, OOM kill)
    exit_code: int | None  # negative: killed by that signal number
    pid: int | None

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def succeeded(self) -> bool:
        return self.state == "exited" and self.exit_code == 0


@dataclass(frozen=True)
class LogLine:
    text: str
    end_offset: int  # resume from here after a reconnect to get the following line


@dataclass(frozen=True)
class LogChunk:
    lines: list[LogLine]
    next_offset: int  # byte offset just after the last complete line returned

    @property
    def texts(self) -> list[str]:
        return [line.text for line in self.lines]


class RemoteProcess:
    """A handle on `<job_dir>/<name>.*`; cheap to create, so re-attaching after a restart is
    `RemoteProcess(session, job_dir)`."""

    def __init__(self, session: SSHSession, job_dir: str, name: str = "run") -> None:
        self.session = session
        self.job_dir = session.absolute(validate_remote_path(job_dir, "job directory"))
        self.name = validate_name(name, "process name")
        self.prefix = posixpath.join(self.job_dir, self.name)
        self.log_path = self.prefix + ".log"
        self.err_path = self.prefix + ".err"
        self.supervisor_path = posixpath.join(self.job_dir, SUPERVISOR_NAME)

    @classmethod
    def start(
        cls,
        session: SSHSession,
        job_dir: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str | SecretStr] | None = None,
        name: str = "run",
        cwd: str | None = None,
    ) -> RemoteProcess:
        """Start `argv` detached, with `env` added to its environment only (sent over the SSH channel's
        stdin, never in a command line or a file). Refuses if this job's process is still running."""
        process = cls(session, job_dir, name)
        extra = {validate_env_name(k): v.get_secret_value() if isinstance(v, SecretStr) else str(v)
                 for k, v in (env or {}).items()}
        workdir = session.absolute(validate_remote_path(cwd, "cwd")) if cwd else process.job_dir
        session.call(lambda s: ensure_remote_dir(s.sftp, process.job_dir))
        session.call(lambda s: upload_file(s.sftp, Path(supervisor.__file__), process.supervisor_path))
        command = [session.target.python, "-S", process.supervisor_path, "start", process.prefix, workdir, "--",
                   *argv]
        attempts: list[int] = []

        def launch(s: SSHSession) -> None:
            attempts.append(1)
            result = run(s.client, command, stdin=json.dumps(extra).encode(), timeout=60)
            out = result.stdout.strip()
            if result.exit_code == supervisor.ALREADY_RUNNING and len(attempts) > 1:
                return  # our first attempt started it before the connection dropped
            if result.exit_code == supervisor.ALREADY_RUNNING:
                raise CommandError(f"{process.prefix} is already running on {s.target.host_port} ({out}); "
                                   f"cancel it or attach to it")
            if result.exit_code != 0 or not out.startswith("started"):
                raise CommandError(f"starting {argv[:1]} on {s.target.host_port} failed (exit "
                                   f"{result.exit_code}): {out} {result.stderr.strip()[-2000:]}")

        session.call(launch)
        return process

    def _supervisor(self, *args: str) -> dict:
        def call(s: SSHSession) -> dict:
            result = run(s.client, [s.target.python, "-S", self.supervisor_path, *args], timeout=60)
            if result.exit_code != 0:
                raise CommandError(f"{self.supervisor_path} {args[0]} failed on {s.target.host_port}: "
                                   f"{result.stderr.strip()[-2000:]}")
            return json.loads(result.stdout)

        return self.session.call(call)

    def status(self) -> ProcessStatus:
        try:
            return ProcessStatus(**self._supervisor("status", self.prefix))
        except CommandError:
            if not self._exists(self.supervisor_path):
                return ProcessStatus("absent", None, None)
            raise

    def _exists(self, path: str) -> bool:
        def stat(s: SSHSession) -> bool:
            try:
                s.sftp.stat(path)
                return True
            except FileNotFoundError:
                return False

        return self.session.call(stat)

    def tail(self, from_offset: int = 0, max_bytes: int = 1 << 20) -> LogChunk:
        """New complete lines of the log from `from_offset`. A partial last line is left for the next
        call, unless one line alone exceeds `max_bytes` (then it is returned cut, so tailing never stalls)."""
        data = self.session.call(lambda s: self._read(s, self.log_path, from_offset, max_bytes))
        end = data.rfind(b"\n") + 1
        if end == 0 and len(data) >= max_bytes:
            end = len(data)
        body = data[:end]
        # split on bytes, and only on \n: offsets stay exact whatever the encoding or a stray \r
        parts, newline = (body[:-1].split(b"\n"), 1) if body.endswith(b"\n") else ([body] if body else [], 0)
        lines = []
        offset = from_offset
        for raw in parts:
            offset += len(raw) + newline
            lines.append(LogLine(raw.rstrip(b"\r").decode("utf-8", errors="replace"), offset))
        return LogChunk(lines, from_offset + end)

    def stderr_tail(self, max_bytes: int = 8000) -> str:
        """The end of the process's stderr (a traceback, a warning), for error messages."""

        def read(s: SSHSession) -> bytes:
            try:
                size = s.sftp.stat(self.err_path).st_size or 0
            except FileNotFoundError:
                return b""
            return self._read(s, self.err_path, max(0, size - max_bytes), max_bytes)

        return self.session.call(read).decode("utf-8", errors="replace")

    @staticmethod
    def _read(s: SSHSession, path: str, offset: int, max_bytes: int) -> bytes:
        try:
            with s.sftp.open(path, "rb") as fh:
                fh.seek(offset)
                return fh.read(max_bytes)
        except FileNotFoundError:
            return b""

    def tail_size(self) -> int:
        """The log's current size: the offset from which a new launch's lines start."""

        def size(s: SSHSession) -> int:
            try:
                return s.sftp.stat(self.log_path).st_size or 0
            except FileNotFoundError:
                return 0

        return self.session.call(size)

    def follow(
        self,
        from_offset: int = 0,
        *,
        poll_interval: float = 1.0,
        should_stop: Callable[[], bool] | None = None,
    ) -> Iterator[LogLine]:
        """Yield log lines as they are written until the process is no longer running (then the rest of
        the log), or until `should_stop()` is true. Dropped connections are reconnected transparently."""
        offset = from_offset
        while True:
            finished = not self.status().running  # checked before reading, so the last lines are not lost
            while True:
                chunk = self.tail(offset)
                yield from chunk.lines
                offset = chunk.next_offset
                if not chunk.lines:
                    break
            if finished or (should_stop is not None and should_stop()):
                return
            time.sleep(poll_interval)

    def wait(self, timeout: float | None = None, poll_interval: float = 1.0) -> ProcessStatus:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            current = self.status()
            if not current.running or (deadline is not None and time.monotonic() >= deadline):
                return current
            time.sleep(poll_interval)

    def signal(self, name: Literal["TERM", "KILL", "INT"]) -> ProcessStatus:
        return ProcessStatus(**self._supervisor("signal", self.prefix, "SIG" + name))

    def cancel(self, grace: float = 10.0, poll_interval: float = 0.2) -> ProcessStatus:
        """SIGTERM to the process group; SIGKILL if it is still running after `grace` seconds."""
        if not self.signal("TERM").running:
            return self.status()
        current = self.wait(timeout=grace, poll_interval=poll_interval)
        if current.running:
            self.signal("KILL")
            current = self.wait(timeout=30, poll_interval=poll_interval)
        return current
