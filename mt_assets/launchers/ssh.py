"""Train and translate on any host reached over SSH (a cloud VM, a lab server, a Colab runtime
behind a tunnel).

The transport — pinned host keys, reconnects, the wheel and virtualenv, the detached remote
process, verified downloads — lives in `mt_assets.remote`; this resource adapts it to the
launcher interface and to Dagster (run log, cancellation). Secrets arrive through dg.EnvVar and
reach the remote process only through its stdin (see mt_assets.remote.supervisor).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any

import dagster as dg
from pydantic import Field, SecretStr

from mt_assets.event_lines import parse_event
from mt_assets.launchers.base import Event, Launcher, TrainingFailed, TranslationFailed
from mt_assets.launchers.ssh_training import run_remote_training
from mt_assets.launchers.ssh_translation import run_remote_translation
from mt_assets.remote.connection import ENV_FIELDS, SSHTarget
from mt_assets.remote.session import SSHSession
from mt_assets.settings import Settings
from mt_assets.training.spec import TrainingJob, TrainingResult
from mt_assets.translation.spec import TranslationJob

_SECRET_FIELDS = ("private_key", "key_passphrase", "password")
_PLAIN_VALUES = {"port": int, "insecure_accept_unknown_host_key": lambda v: v.lower() in ("1", "true", "yes")}


class SSHLauncher(Launcher):
    host: str
    user: str
    port: int = 22
    key_file: str | None = None
    private_key: str | None = Field(None, description="key material; set with dg.EnvVar")
    key_passphrase: str | None = Field(None, description="set with dg.EnvVar")
    password: str | None = Field(None, description="set with dg.EnvVar")
    known_hosts: str | None = None
    host_key_fingerprint: str | None = Field(None, description="expected host key, SHA256:...")
    insecure_accept_unknown_host_key: bool = Field(
        False, description="accept any host key (logged as a warning on every run); never the default"
    )
    workdir: str = ".mt-assets"
    python: str = Field("python3", description="remote interpreter that creates the job virtualenv")
    package_python: str | None = Field(
        None, description="a remote Python that already has mt-assets: skips the wheel and virtualenv"
    )
    forward_env: list[str] = Field(
        default_factory=lambda: ["HF_TOKEN"],
        description="names of local environment variables passed to the remote training process only",
    )
    num_processes: int = Field(1, ge=1, description="> 1 runs the same entry point under accelerate launch")
    install_dependencies: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SSHLauncher:
        """Configured from MT_SSH_* variables; every value stays an EnvVar so none shows in the UI."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, field in ENV_FIELDS.items():
            if not env.get(name):
                continue
            parse = _PLAIN_VALUES.get(field)
            values[field] = parse(env[name]) if parse else dg.EnvVar(name)
        if "MT_SSH_PACKAGE_PYTHON" in env:
            values["package_python"] = dg.EnvVar("MT_SSH_PACKAGE_PYTHON")
        missing = [n for n, f in ENV_FIELDS.items() if f in ("host", "user") and f not in values]
        if missing:
            raise ValueError(f"MT_LAUNCHER=ssh needs {' and '.join(missing)}")
        return cls(**values)

    def _target(self) -> SSHTarget:
        fields = {f: getattr(self, f) for f in ENV_FIELDS.values() if getattr(self, f) is not None}
        for secret in _SECRET_FIELDS:
            if secret in fields:
                fields[secret] = SecretStr(fields[secret])
        return SSHTarget(**fields)

    def _forwarder(
        self, context: dg.AssetExecutionContext, on_event: Callable[[Event], None], log_lines: bool = True
    ) -> tuple[Callable[[str], None], list[str]]:
        """A line handler that forwards each event once and keeps the error events' messages."""
        seen: set[str] = set()
        errors: list[str] = []

        def on_line(line: str) -> None:
            event = parse_event(line)
            if event is None:
                return
            # Re-attaching to a running job replays its log from the start: forward each event once.
            key = json.dumps(event, sort_keys=True)
            if key in seen:
                return
            seen.add(key)
            if event["event"] == "error":
                errors.append(str(event.get("message")))
            if log_lines:
                context.log.info(line)
            on_event(event)

        return on_line, errors

    def _session(self, context: dg.AssetExecutionContext) -> SSHSession:
        def on_reconnect(attempt: int, reason: str) -> None:
            context.log.warning(f"SSH connection to {self.host} dropped ({reason}); reconnected, attempt {attempt}")

        return SSHSession(self._target(), warn=context.log.warning, on_reconnect=on_reconnect)

    def _forwarded_env(self) -> dict[str, SecretStr]:
        return {name: SecretStr(os.environ[name]) for name in self.forward_env if os.environ.get(name)}

    def train(
        self, context: dg.AssetExecutionContext, job: TrainingJob, on_event: Callable[[Event], None]
    ) -> TrainingResult:
        on_line, errors = self._forwarder(context, on_event)
        with self._session(context) as session:
            outcome = run_remote_training(
                session,
                job,
                local_output_dir=job.output_dir,
                wheel_cache_dir=Settings.from_env().home / "wheels",
                env=self._forwarded_env(),
                on_line=on_line,
                num_processes=self.num_processes,
                install_dependencies=self.install_dependencies,
                python=self.package_python,
            )
        if outcome.result is None:
            reason = errors[-1] if errors else f"remote job {outcome.status.state}; stderr:\n{outcome.stderr_tail}"
            raise TrainingFailed(f"training job {job.job_id} on {self.host} failed: {reason}")
        return outcome.result

    def translate(
        self, context: dg.AssetExecutionContext, job: TranslationJob, on_event: Callable[[Event], None]
    ) -> None:
        # translation rows are stored, not logged: the progress events already reach the run log
        on_line, errors = self._forwarder(context, on_event, log_lines=False)
        with self._session(context) as session:
            outcome = run_remote_translation(
                session,
                job,
                wheel_cache_dir=Settings.from_env().home / "wheels",
                env=self._forwarded_env(),
                on_line=on_line,
                install_dependencies=self.install_dependencies,
                python=self.package_python,
            )
        if not outcome.status.succeeded:
            reason = errors[-1] if errors else (
                f"remote process {outcome.status.state} (exit code {outcome.status.exit_code}); "
                f"stderr:\n{outcome.stderr_tail}"
            )
            raise TranslationFailed(
                f"translation {job.method} on {self.host} failed: {reason}; rows already translated are kept, "
                "re-run to translate the rest"
            )
