"""Remote shell commands: every argument `shlex.quote`d, names and paths validated first.

Validation is defence in depth: quoting already stops shell injection, the checks stop a
job id or path from escaping its directory (`..`, absolute paths, option-like names).
"""

from __future__ import annotations

import posixpath
import re
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass

import paramiko

from mt_assets.remote.errors import CommandError, UnsafeValueError

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_PATH_PART_RE = re.compile(r"^[A-Za-z0-9._+@=-]+$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def validate_name(value: str, what: str = "name") -> str:
    """A single path component we create: letters, digits, `.`, `_`, `-`; no `..`, no leading dot or dash."""
    if not isinstance(value, str) or not _NAME_RE.match(value) or ".." in value:
        raise UnsafeValueError(
            f"{what} {value!r} is not a safe name: use 1-128 of [A-Za-z0-9._-], starting with a letter or "
            f"digit, without '..'"
        )
    return value


def validate_remote_path(value: str, what: str = "remote path") -> str:
    """A POSIX path (absolute, or relative to the login home) without `..`, `~`, empty parts or shell-special
    characters, so it means the same to SFTP and to the shell."""
    if not isinstance(value, str) or not value or value.strip() != value:
        raise UnsafeValueError(f"{what} {value!r} is empty or has surrounding whitespace")
    parts = value.split("/")
    body = parts[1:] if value.startswith("/") else parts
    if body and body[-1] == "":
        body = body[:-1]
    for part in body:
        if part in ("", ".", "..") or not _PATH_PART_RE.match(part) or part.startswith("-"):
            raise UnsafeValueError(
                f"{what} {value!r}: component {part!r} is not allowed (use [A-Za-z0-9._+@=-], no '..', "
                f"no empty parts, no leading '-')"
            )
    return value


def validate_env_name(value: str) -> str:
    if not _ENV_NAME_RE.match(value):
        raise UnsafeValueError(f"environment variable name {value!r} is not [A-Za-z_][A-Za-z0-9_]*")
    return value


def remote_join(base: str, *parts: str) -> str:
    """`base/parts...` where each part is a validated name."""
    return posixpath.join(validate_remote_path(base), *(validate_name(p, "path component") for p in parts))


def shell_join(argv: Sequence[str]) -> str:
    """One shell command line whose words are exactly `argv`."""
    if isinstance(argv, str):
        raise TypeError("shell_join takes a sequence of arguments, not a string")
    return " ".join(shlex.quote(str(arg)) for arg in argv)


@dataclass(frozen=True)
class CommandResult:
    command: str
    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def check(self) -> CommandResult:
        if self.exit_code != 0:
            raise CommandError(
                f"remote command failed with exit code {self.exit_code}: {self.command}\n"
                f"{self.stderr.strip()[-2000:]}"
            )
        return self


def run(
    client: paramiko.SSHClient,
    command: str | Sequence[str],
    *,
    timeout: float = 120.0,
    stdin: bytes | None = None,
    check: bool = False,
) -> CommandResult:
    """Run `command` (a prebuilt shell line, or argv to quote) and collect its exit code and output.

    Output is drained as it arrives so a chatty command cannot block on a full channel window.
    On timeout the channel is closed (the remote command gets SIGPIPE/EOF) and CommandError raised.
    """
    line = command if isinstance(command, str) else shell_join(command)
    transport = client.get_transport()
    if transport is None or not transport.is_active():
        raise paramiko.SSHException("SSH session not active")
    channel = transport.open_session(timeout=timeout)
    out: list[bytes] = []
    err: list[bytes] = []
    try:
        channel.settimeout(0.0)
        channel.exec_command(line)
        if stdin is not None:
            channel.settimeout(timeout)
            channel.sendall(stdin)
            channel.settimeout(0.0)
        channel.shutdown_write()
        deadline = time.monotonic() + timeout
        while True:
            progressed = False
            while channel.recv_ready():
                out.append(channel.recv(65536))
                progressed = True
            while channel.recv_stderr_ready():
                err.append(channel.recv_stderr(65536))
                progressed = True
            if channel.exit_status_ready() and not channel.recv_ready() and not channel.recv_stderr_ready():
                break
            if channel.closed and not channel.exit_status_ready():
                raise paramiko.SSHException(f"SSH channel closed before the command finished: {line}")
            if time.monotonic() > deadline:
                raise CommandError(f"remote command timed out after {timeout:.0f}s: {line}")
            if not progressed:
                time.sleep(0.01)
        code = channel.recv_exit_status()
    finally:
        channel.close()
    result = CommandResult(line, code, b"".join(out).decode(errors="replace"), b"".join(err).decode(errors="replace"))
    return result.check() if check else result
