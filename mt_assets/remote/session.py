"""A long-lived SSH session that survives dropped connections.

Every remote operation goes through `SSHSession.call(fn)`: if it fails *because the
connection is gone* (the transport is no longer active), the session reconnects with
backoff and runs `fn` again. Failures on a live connection (a missing file, a failing
command, a timeout) are raised unchanged, so only idempotent operations should be passed
to `call` — which all of ours are, except starting a process (see process.py).
"""

from __future__ import annotations

import logging
import posixpath
import time
from collections.abc import Callable
from typing import TypeVar

import paramiko

from mt_assets.remote.connection import Backoff, SSHTarget, Warn, connect
from mt_assets.remote.errors import ConnectError

log = logging.getLogger(__name__)
T = TypeVar("T")


class SSHSession:
    def __init__(
        self,
        target: SSHTarget,
        *,
        backoff: Backoff | None = None,
        warn: Warn | None = None,
        on_reconnect: Callable[[int, str], None] | None = None,
    ) -> None:
        self.target = target
        self.backoff = backoff or Backoff()
        self.warn = warn
        self.on_reconnect = on_reconnect
        self.reconnects = 0
        self._lost_reason = "connection closed"
        self.reconnects_pending = False  # the connection dropped and was discarded; the next one is a reconnect
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._home: str | None = None

    def __enter__(self) -> SSHSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        transport = self._client.get_transport() if self._client else None
        return bool(transport and transport.is_active())

    @property
    def client(self) -> paramiko.SSHClient:
        if not self.connected:
            reconnecting = self._client is not None or self.reconnects_pending
            self._drop()
            self._client = connect(self.target, backoff=self.backoff, warn=self.warn)
            if reconnecting:
                self.reconnects += 1
                self.reconnects_pending = False
                log.warning("ssh %s: reconnected (%s)", self.target.host_port, self._lost_reason)
                if self.on_reconnect:
                    self.on_reconnect(self.reconnects, self._lost_reason)
        assert self._client is not None
        return self._client

    @property
    def sftp(self) -> paramiko.SFTPClient:
        client = self.client
        if self._sftp is None or self._sftp.get_channel() is None or self._sftp.get_channel().closed:
            self._sftp = client.open_sftp()
            # without a timeout an SFTP read on a silently dead link blocks forever
            self._sftp.get_channel().settimeout(self.target.io_timeout)
        return self._sftp

    def absolute(self, path: str) -> str:
        """`path` made absolute on the remote: relative paths are under the login home (as for SFTP),
        and a process started elsewhere must not depend on its working directory."""
        if path.startswith("/"):
            return path
        if self._home is None:
            self._home = self.call(lambda s: s.sftp.normalize("."))
        return posixpath.join(self._home, path)

    def call(self, fn: Callable[[SSHSession], T]) -> T:
        """`fn(self)`, reconnecting with backoff and retrying while the connection keeps dropping."""
        delays = self.backoff.delays()
        attempt = 0
        while True:
            try:
                return fn(self)
            except (OSError, EOFError, paramiko.SSHException) as exc:
                if isinstance(exc, paramiko.AuthenticationException):
                    raise
                if isinstance(exc, TimeoutError) and self.connected:
                    self._drop()  # the link went silent: treat it as dropped rather than wait on it
                elif self.connected:
                    raise
                if attempt >= len(delays):
                    raise ConnectError(
                        f"connection to {self.target.address} kept dropping ({self.backoff.attempts} attempts); "
                        f"last error: {type(exc).__name__}: {exc}"
                    ) from exc
                self._lost_reason = f"{type(exc).__name__}: {exc}"
                log.warning("ssh %s: connection lost (%s); reconnecting in %.1fs", self.target.host_port,
                            self._lost_reason, delays[attempt])
                self._drop()
                self.reconnects_pending = True
                time.sleep(delays[attempt])
                attempt += 1

    def _drop(self) -> None:
        if self._sftp is not None:
            try:
                self._sftp.close()
            except Exception:  # closing a dead channel may fail in any way
                pass
        if self._client is not None:
            self._client.close()
        self._sftp = None
        self._client = None

    def close(self) -> None:
        self._drop()
