"""Who to connect to and how: `SSHTarget`, host-key pinning, and `connect()` with backoff.

Host keys are pinned by a known_hosts file or an expected SHA256 fingerprint. An unknown or
changed key is refused unless `insecure_accept_unknown_host_key` is set, and then every
accepted key is reported through `warn` (the launcher passes the Dagster run log).
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import paramiko
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from mt_assets.remote.commands import validate_remote_path
from mt_assets.remote.errors import AuthenticationError, ConnectError, HostKeyError

log = logging.getLogger(__name__)

Warn = Callable[[str], None]
FINGERPRINT_RE = re.compile(r"^SHA256:[A-Za-z0-9+/]{43}=?$")
_PYTHON_RE = re.compile(r"^[A-Za-z0-9._/+-]+$")


class SSHTarget(BaseModel):
    """A remote host and where mt-assets lives on it. Secrets are `SecretStr` (masked in repr)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field(min_length=1)
    port: int = Field(22, ge=1, le=65535)
    user: str = Field(min_length=1)
    key_file: Path | None = None
    private_key: SecretStr | None = Field(None, description="key material (OpenSSH/PEM text)")
    key_passphrase: SecretStr | None = None
    password: SecretStr | None = None
    known_hosts: Path | None = None
    host_key_fingerprint: str | None = Field(None, description='e.g. "SHA256:..." from ssh-keygen -lf')
    insecure_accept_unknown_host_key: bool = False
    workdir: str = Field(".mt-assets", description="remote work directory; relative = under the login home")
    python: str = Field("python3", description="remote Python that creates the virtualenv")
    connect_timeout: float = Field(15.0, gt=0)
    keepalive_seconds: int = Field(15, ge=0)
    io_timeout: float = Field(120.0, gt=0, description="an SFTP operation silent this long means a dead link")

    @field_validator("host_key_fingerprint")
    @classmethod
    def _fingerprint(cls, value: str | None) -> str | None:
        if value is not None and not FINGERPRINT_RE.match(value.strip()):
            raise ValueError(f"host_key_fingerprint must look like 'SHA256:<43 base64 chars>', got {value!r}")
        return value.strip() if value else value

    @field_validator("workdir")
    @classmethod
    def _workdir(cls, value: str) -> str:
        return validate_remote_path(value, "workdir")

    @field_validator("python")
    @classmethod
    def _python(cls, value: str) -> str:
        if not _PYTHON_RE.match(value) or value.startswith("-") or ".." in value.split("/"):
            raise ValueError(f"python must be a command name or path of [A-Za-z0-9._/+-], got {value!r}")
        return value

    @model_validator(mode="after")
    def _credentials(self) -> SSHTarget:
        if self.key_file is None and self.private_key is None and self.password is None:
            raise ValueError("give key_file, private_key or password")
        if self.key_file is not None and self.private_key is not None:
            raise ValueError("give key_file or private_key, not both")
        return self

    @property
    def address(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"

    @property
    def host_port(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: `attempts` tries in all, delays initial, initial*factor, ... capped."""

    attempts: int = 5
    initial: float = 1.0
    factor: float = 2.0
    max_delay: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.initial < 0 or self.factor < 1:
            raise ValueError(f"invalid backoff {self}: attempts >= 1, initial >= 0, factor >= 1")

    def delays(self) -> list[float]:
        return [min(self.initial * self.factor**i, self.max_delay) for i in range(self.attempts - 1)]


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's `SHA256:...` fingerprint (unpadded base64 of the key blob's sha256)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def _same_fingerprint(a: str, b: str) -> bool:
    return a.rstrip("=") == b.rstrip("=")


def _pin_hint(target: SSHTarget, key: paramiko.PKey) -> str:
    return (
        f"if this is the right host, pin it: host_key_fingerprint={fingerprint(key)!r} "
        f"(compare with `ssh-keygen -lf /etc/ssh/ssh_host_{_key_file_stem(key)}_key.pub` on the host), "
        f"or add `ssh-keyscan -p {target.port} {target.host}` output to a known_hosts file"
    )


def _key_file_stem(key: paramiko.PKey) -> str:
    name = key.get_name()
    if "ed25519" in name:
        return "ed25519"
    if "ecdsa" in name:
        return "ecdsa"
    return "rsa"


class _PinnedPolicy(paramiko.MissingHostKeyPolicy):
    """Called by paramiko only for keys absent from the loaded known_hosts."""

    def __init__(self, target: SSHTarget, warn: Warn) -> None:
        self.target = target
        self.warn = warn

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        presented = fingerprint(key)
        expected = self.target.host_key_fingerprint
        if expected and _same_fingerprint(presented, expected):
            client.get_host_keys().add(hostname, key.get_name(), key)
            return
        if self.target.insecure_accept_unknown_host_key:
            self.warn(
                f"INSECURE: accepting the unverified {key.get_name()} host key {presented} of "
                f"{self.target.host_port} because insecure_accept_unknown_host_key is set; "
                f"{_pin_hint(self.target, key)}"
            )
            return
        if expected:
            raise HostKeyError(
                f"host key of {self.target.host_port} does not match the pinned fingerprint: presented "
                f"{key.get_name()} {presented}, expected {expected}. The host was reinstalled or someone "
                f"is intercepting the connection; {_pin_hint(self.target, key)}"
            )
        where = f"not in {self.target.known_hosts}" if self.target.known_hosts else "not pinned"
        raise HostKeyError(
            f"unknown host key for {self.target.host_port} ({where}): presented {key.get_name()} "
            f"{presented}; {_pin_hint(self.target, key)}"
        )


def _load_pkey(target: SSHTarget) -> paramiko.PKey | None:
    passphrase = target.key_passphrase.get_secret_value() if target.key_passphrase else None
    try:
        if target.key_file is not None:
            return paramiko.PKey.from_path(target.key_file, passphrase)
        if target.private_key is not None:
            material = target.private_key.get_secret_value()
            errors = []
            for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
                try:
                    return cls.from_private_key(io.StringIO(material), passphrase)
                except paramiko.SSHException as exc:
                    errors.append(f"{cls.__name__}: {exc}")
            raise AuthenticationError(f"private_key for {target.address} is not a readable key ({'; '.join(errors)})")
    except (OSError, paramiko.SSHException, ValueError) as exc:
        where = target.key_file if target.key_file is not None else "private_key"
        raise AuthenticationError(f"cannot read SSH key {where} for {target.address}: {exc}") from exc
    return None


def _connect_once(target: SSHTarget, warn: Warn) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    # only explicit pins count: ~/.ssh/known_hosts is not loaded behind the user's back
    if target.known_hosts is not None and not target.insecure_accept_unknown_host_key:
        try:
            client.load_host_keys(str(target.known_hosts))
        except OSError as exc:
            raise HostKeyError(f"cannot read known_hosts {target.known_hosts}: {exc}") from exc
    # a stricter RejectPolicy: keys absent from known_hosts pass only by fingerprint or the insecure flag
    client.set_missing_host_key_policy(_PinnedPolicy(target, warn))
    try:
        client.connect(
            target.host,
            port=target.port,
            username=target.user,
            pkey=_load_pkey(target),
            password=target.password.get_secret_value() if target.password else None,
            timeout=target.connect_timeout,
            banner_timeout=target.connect_timeout,
            auth_timeout=target.connect_timeout,
            allow_agent=False,
            look_for_keys=False,
        )
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise HostKeyError(
            f"host key of {target.host_port} CHANGED: presented {exc.key.get_name()} {fingerprint(exc.key)}, "
            f"{target.known_hosts} has {fingerprint(exc.expected_key)}. The host was reinstalled or someone "
            f"is intercepting the connection; if the change is expected, remove the old line "
            f"(`ssh-keygen -R '[{target.host}]:{target.port}' -f {target.known_hosts}`) and "
            f"{_pin_hint(target, exc.key)}"
        ) from None
    except paramiko.AuthenticationException as exc:
        client.close()
        method = "key file " + str(target.key_file) if target.key_file else (
            "private_key" if target.private_key else "password"
        )
        raise AuthenticationError(
            f"authentication to {target.address} failed with {method}: {exc}. Check that the public key "
            f"is in the remote user's authorized_keys and the user name is right"
        ) from None
    except BaseException:
        client.close()
        raise
    transport = client.get_transport()
    if transport is not None and target.keepalive_seconds:
        # a dead peer is then noticed within seconds instead of at the next TCP timeout
        transport.set_keepalive(target.keepalive_seconds)
    return client


def connect(
    target: SSHTarget,
    *,
    backoff: Backoff | None = None,
    warn: Warn | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> paramiko.SSHClient:
    """An authenticated client whose host key is pinned. Network failures are retried with
    exponential backoff; host-key and authentication failures are not (retrying cannot fix them)."""
    backoff = backoff or Backoff()
    warn = warn or log.warning
    delays = backoff.delays()
    failures: list[str] = []
    for attempt in range(backoff.attempts):
        try:
            return _connect_once(target, warn)
        except (HostKeyError, AuthenticationError):
            raise
        except (OSError, EOFError, paramiko.SSHException) as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
            if attempt < len(delays):
                log.info("ssh %s: attempt %d failed (%s); retrying in %.1fs", target.host_port, attempt + 1,
                         exc, delays[attempt])
                sleep(delays[attempt])
    raise ConnectError(
        f"cannot connect to {target.address} after {backoff.attempts} attempts; last error: {failures[-1]}"
    )


# MT_SSH_* variable -> SSHTarget field; how `MT_LAUNCHER=ssh` runs are configured without code.
ENV_FIELDS = {
    "MT_SSH_HOST": "host",
    "MT_SSH_PORT": "port",
    "MT_SSH_USER": "user",
    "MT_SSH_KEY_FILE": "key_file",
    "MT_SSH_PRIVATE_KEY": "private_key",
    "MT_SSH_KEY_PASSPHRASE": "key_passphrase",
    "MT_SSH_PASSWORD": "password",
    "MT_SSH_KNOWN_HOSTS": "known_hosts",
    "MT_SSH_HOST_KEY_FINGERPRINT": "host_key_fingerprint",
    "MT_SSH_INSECURE_ACCEPT_UNKNOWN_HOST_KEY": "insecure_accept_unknown_host_key",
    "MT_SSH_WORKDIR": "workdir",
    "MT_SSH_PYTHON": "python",
}


def target_from_env(environ: Mapping[str, str]) -> SSHTarget:
    """An SSHTarget from MT_SSH_* variables; errors name the variable, never its (maybe secret) value."""
    values = {field: environ[name] for name, field in ENV_FIELDS.items() if environ.get(name)}
    try:
        return SSHTarget(**values)
    except ValidationError as exc:
        by_field = {field: name for name, field in ENV_FIELDS.items()}
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            where = by_field.get(field, "MT_SSH_KEY_FILE / MT_SSH_PRIVATE_KEY / MT_SSH_PASSWORD")
            problems.append(f"{where}: {error['msg']}")
        raise ValueError("invalid SSH launcher settings: " + "; ".join(problems)) from None
