"""A throwaway OpenSSH server on 127.0.0.1 for tests: its own host key, client key, config
and port, started as `sshd -D -e -f CONFIG` and stopped at teardown.

openssh-server must be installed (scripts/test installs it when running as root). A missing
sshd fails the tests with instructions instead of skipping them, so CI cannot pass silently.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mt_assets.remote.connection import SSHTarget

SSHD = "/usr/sbin/sshd"


@dataclass(frozen=True)
class SSHServer:
    host: str
    port: int
    user: str
    dir: Path
    client_key: Path
    host_public_key: str  # "ssh-ed25519 AAAA..."
    fingerprint: str  # "SHA256:..."
    known_hosts: Path
    log: Path

    def target(self, **overrides: Any) -> SSHTarget:
        """Pinned by known_hosts, key auth, workdir under the server's temp dir."""
        values: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "key_file": self.client_key,
            "known_hosts": self.known_hosts,
            "workdir": str(self.dir / "remote"),
            "python": sys.executable,
            "connect_timeout": 5.0,
        }
        values.update(overrides)
        return SSHTarget(**values)

    def launcher(self, **overrides: Any):
        """An SSHLauncher resource pinned to this server; this machine's Python already has
        mt-assets, so no venv is built (package_python)."""
        from mt_assets.launchers.ssh import SSHLauncher

        values: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "key_file": str(self.client_key),
            "known_hosts": str(self.known_hosts),
            "workdir": str(self.dir / "remote"),
            "package_python": sys.executable,
        }
        return SSHLauncher(**{**values, **overrides})

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def keygen(path: Path, comment: str = "mt-assets-test") -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True, capture_output=True,
    )
    return path


def key_fingerprint(public_key_file: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(public_key_file)],
                         check=True, capture_output=True, text=True).stdout
    return out.split()[1]


def write_known_hosts(path: Path, host: str, port: int, public_key: str) -> Path:
    path.write_text(f"[{host}]:{port} {public_key}\n")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _require_sshd() -> None:
    if os.path.exists(SSHD) and shutil.which("ssh-keygen"):
        return
    how = ("run scripts/test as root (it installs openssh-server), or: apt-get install -y openssh-server"
           if os.geteuid() != 0 else "apt-get update && apt-get install -y openssh-server")
    pytest.fail(f"SSH tests need OpenSSH ({SSHD} and ssh-keygen) and they are missing; {how}", pytrace=False)


def _wait_ready(proc: subprocess.Popen, port: int, log: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(64).startswith(b"SSH-"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"sshd did not answer on port {port} within {timeout}s:\n{log.read_text(errors='replace')}")


@contextmanager
def running_sshd(extra_config: str = "") -> Iterator[SSHServer]:
    _require_sshd()
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege-separation directory
    base = Path(tempfile.mkdtemp(prefix="mt-sshd-"))
    try:
        host_key = keygen(base / "ssh_host_ed25519_key", "test-host")
        client_key = keygen(base / "client_ed25519")
        (base / "authorized_keys").write_text((base / "client_ed25519.pub").read_text())
        port = _free_port()
        user = getpass.getuser()
        config = base / "sshd_config"
        config.write_text(
            f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile {base / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {base / 'authorized_keys'}\nStrictModes no\nUsePAM no\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
            "Subsystem sftp internal-sftp\nLogLevel VERBOSE\nMaxSessions 50\nMaxStartups 50\n"
            + extra_config
        )
        host_public = (base / "ssh_host_ed25519_key.pub").read_text().split()
        public = f"{host_public[0]} {host_public[1]}"
        log = base / "sshd.log"
        with open(log, "wb") as log_file:
            proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=log_file, stderr=subprocess.STDOUT)
        try:
            _wait_ready(proc, port, log)
            yield SSHServer(
                host="127.0.0.1", port=port, user=user, dir=base, client_key=client_key,
                host_public_key=public, fingerprint=key_fingerprint(base / "ssh_host_ed25519_key.pub"),
                known_hosts=write_known_hosts(base / "known_hosts", "127.0.0.1", port, public), log=log,
            )
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    finally:
        shutil.rmtree(base, ignore_errors=True)

