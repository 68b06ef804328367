"""Detached remote processes against a real sshd: they outlive the connection, their log is tailed
by offset across reconnects, they can be cancelled, and secrets reach them without touching disk."""

from __future__ import annotations

import hashlib
import os
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mt_assets.remote.bundle import job_dir
from mt_assets.remote.connection import Backoff
from mt_assets.remote.errors import CommandError
from mt_assets.remote.process import RemoteProcess
from mt_assets.remote.session import SSHSession
from mt_assets_tests.sshd import SSHServer, running_sshd

FAST = Backoff(attempts=4, initial=0.05, factor=2.0)
PY = sys.executable  # the "remote" is this machine: its Python has every dependency


@pytest.fixture(scope="module")
def sshd_server() -> Iterator[SSHServer]:
    with running_sshd() as server:
        yield server


@pytest.fixture
def session(sshd_server: SSHServer) -> Iterator[SSHSession]:
    with SSHSession(sshd_server.target(), backoff=FAST) as s:
        yield s


def _job(sshd_server: SSHServer) -> str:
    return job_dir(sshd_server.target().workdir, "job-" + uuid.uuid4().hex[:8])


def _printer(count: int, delay: float) -> list[str]:
    code = f"import time\nfor i in range({count}):\n    print('line', i, flush=True)\n    time.sleep({delay})\n"
    return [PY, "-c", code]


def _wait_for_lines(process: RemoteProcess, n: int, timeout: float = 20) -> tuple[list[str], int]:
    lines: list[str] = []
    offset = 0
    deadline = time.monotonic() + timeout
    while len(lines) < n:
        assert time.monotonic() < deadline, f"only {lines} after {timeout}s"
        chunk = process.tail(offset)
        lines += chunk.texts
        offset = chunk.next_offset
        time.sleep(0.05)
    return lines, offset


def test_process_survives_the_connection_closing_and_is_reattached(sshd_server: SSHServer) -> None:
    job = _job(sshd_server)
    with SSHSession(sshd_server.target(), backoff=FAST) as first:
        process = RemoteProcess.start(first, job, _printer(6, 0.3))
        seen, offset = _wait_for_lines(process, 1)
    # the client is gone; the process must still be running and writing
    with SSHSession(sshd_server.target(), backoff=FAST) as second:
        attached = RemoteProcess(second, job)
        assert attached.status().running
        rest = [line.text for line in attached.follow(offset, poll_interval=0.1)]
        final = attached.status()
    assert seen + rest == [f"line {i}" for i in range(6)]
    assert final.state == "exited" and final.exit_code == 0 and final.succeeded


def test_tailing_continues_after_the_connection_is_killed_mid_tail(sshd_server: SSHServer) -> None:
    reconnects: list[str] = []
    with SSHSession(sshd_server.target(), backoff=FAST, on_reconnect=lambda n, why: reconnects.append(why)) as s:
        process = RemoteProcess.start(s, _job(sshd_server), _printer(8, 0.15))
        lines = []
        for line in process.follow(poll_interval=0.05):
            lines.append(line.text)
            if len(lines) in (2, 5):
                s.client.get_transport().close()  # the network drops while we are tailing
        assert process.status().succeeded
    assert lines == [f"line {i}" for i in range(8)]
    assert len(reconnects) == 2


def test_exit_code_and_stderr_are_recorded(session: SSHSession, sshd_server: SSHServer) -> None:
    process = RemoteProcess.start(session, _job(sshd_server),
                                  [PY, "-c", "import sys; print('oops', file=sys.stderr); sys.exit(3)"])
    final = process.wait(timeout=20, poll_interval=0.1)
    assert (final.state, final.exit_code, final.succeeded) == ("exited", 3, False)
    assert process.tail().texts == [] and process.stderr_tail() == "oops\n"


def test_cancel_terminates_the_whole_process_group(session: SSHSession, sshd_server: SSHServer) -> None:
    code = ("import subprocess, time\n"
            "grandchild = subprocess.Popen(['sleep', '60'])\n"
            "print(grandchild.pid, flush=True)\n"
            "time.sleep(60)\n")
    process = RemoteProcess.start(session, _job(sshd_server), [PY, "-c", code])
    (grandchild,), _ = _wait_for_lines(process, 1)
    final = process.cancel(grace=5, poll_interval=0.1)
    assert (final.state, final.exit_code) == ("exited", -signal.SIGTERM)
    # the remote is this machine, so we can see that the grandchild went too
    deadline = time.monotonic() + 5
    while _alive(int(grandchild)):
        assert time.monotonic() < deadline, "grandchild survived the cancel"
        time.sleep(0.05)


def test_cancel_escalates_to_sigkill_after_the_grace_period(session: SSHSession, sshd_server: SSHServer) -> None:
    code = ("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "print('ignoring TERM', flush=True)\ntime.sleep(60)\n")
    process = RemoteProcess.start(session, _job(sshd_server), [PY, "-c", code])
    _wait_for_lines(process, 1)
    final = process.cancel(grace=0.5, poll_interval=0.1)
    assert (final.state, final.exit_code) == ("exited", -signal.SIGKILL)


def test_a_process_killed_with_its_supervisor_is_reported_as_died(session: SSHSession, sshd_server: SSHServer) -> None:
    job = _job(sshd_server)
    process = RemoteProcess.start(session, job, ["sleep", "60"])
    supervisor_pid, child_pid = map(int, Path(process.prefix + ".pid").read_text().split())
    os.kill(supervisor_pid, signal.SIGKILL)  # like the OOM killer or a host reboot
    os.kill(child_pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while (current := process.status()).running:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert (current.state, current.exit_code) == ("died", None)


def test_second_start_while_running_is_refused(session: SSHSession, sshd_server: SSHServer) -> None:
    job = _job(sshd_server)
    process = RemoteProcess.start(session, job, ["sleep", "30"])
    try:
        with pytest.raises(CommandError, match="already running"):
            RemoteProcess.start(session, job, ["sleep", "30"])
    finally:
        process.cancel(grace=2, poll_interval=0.1)


def test_unknown_command_is_a_clear_error(session: SSHSession, sshd_server: SSHServer) -> None:
    with pytest.raises(CommandError, match="no-such-program"):
        RemoteProcess.start(session, _job(sshd_server), ["/nonexistent/no-such-program"])


def test_absent_process_status(session: SSHSession, sshd_server: SSHServer) -> None:
    assert RemoteProcess(session, _job(sshd_server)).status().state == "absent"


def test_secret_env_reaches_the_process_but_no_file_log_or_command_line(
    session: SSHSession, sshd_server: SSHServer
) -> None:
    secret = "hf_" + uuid.uuid4().hex
    job = _job(sshd_server)
    code = ("import hashlib, os, time\n"
            "value = os.environ.get('HF_TOKEN', '')\n"
            "print('set' if value else 'unset', hashlib.sha256(value.encode()).hexdigest(), flush=True)\n"
            "time.sleep(1.5)\n")
    process = RemoteProcess.start(session, job, [PY, "-c", code], env={"HF_TOKEN": secret})
    _wait_for_lines(process, 1)
    supervisor_pid, child_pid = map(int, Path(process.prefix + ".pid").read_text().split())
    # while it runs: on no process's command line, and not in the supervisor's own environment
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            assert secret.encode() not in cmdline.read_bytes(), cmdline
        except OSError:
            pass
    assert secret.encode() not in Path(f"/proc/{supervisor_pid}/environ").read_bytes()
    assert process.wait(timeout=20, poll_interval=0.1).succeeded
    assert process.tail().texts == [f"set {hashlib.sha256(secret.encode()).hexdigest()}"]
    files = [p for p in Path(process.job_dir).rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"run.log", "run.pid", "run.rc", "supervisor.py"}
    for path in files:
        assert secret.encode() not in path.read_bytes(), path
    assert secret not in sshd_server.log_text()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it is dead for our purposes
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[-1].split()[0] != "Z"


def test_tail_offsets_are_exact_bytes_with_odd_encodings(session: SSHSession, sshd_server: SSHServer) -> None:
    code = ("import sys\n"
            "sys.stdout.buffer.write(b'caf\\xc3\\xa9 \\xff bad\\r\\nprogress\\rdone\\n')\n"
            "sys.stdout.buffer.write(b'partial without newline')\n")
    process = RemoteProcess.start(session, _job(sshd_server), [PY, "-c", code])
    assert process.wait(timeout=20, poll_interval=0.1).succeeded
    first = process.tail(0)
    assert first.texts == ["caf\u00e9 \ufffd bad", "progress\rdone"]
    raw = Path(process.log_path).read_bytes()
    assert [line.end_offset for line in first.lines] == [raw.index(b"\n") + 1, raw.rindex(b"\n") + 1]
    assert first.next_offset == raw.rindex(b"\n") + 1
    assert process.tail(first.lines[0].end_offset).texts == ["progress\rdone"]
    assert process.tail(first.next_offset).texts == []  # an unfinished line waits for its newline
