"""Errors of the SSH layer. Messages name the host and what to do; they never hold a secret."""

from __future__ import annotations


class RemoteError(Exception):
    """Base class: anything that went wrong talking to, or on, the remote host."""


class HostKeyError(RemoteError):
    """The host presented a key we cannot trust (unknown, or different from the pinned one)."""


class AuthenticationError(RemoteError):
    """The host refused our credentials."""


class ConnectError(RemoteError):
    """The host could not be reached, after every retry."""


class UnsafeValueError(RemoteError, ValueError):
    """A name or path that could escape its directory or the shell."""


class CommandError(RemoteError):
    """A remote command failed or timed out."""


class ChecksumError(RemoteError):
    """A transferred file's sha256 differs from the expected one."""


class BundleError(RemoteError):
    """The package wheel could not be built."""
