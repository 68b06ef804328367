"""The remote virtualenv: created once with `--system-site-packages` (so a GPU runtime's own CUDA
torch is reused; when the remote interpreter is itself a virtualenv, its packages are reused the same
way), and the wheel installed only when its sha256 differs from the venv's marker."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from mt_assets.remote.bundle import build_wheel, upload_wheel
from mt_assets.remote.commands import remote_join, run, validate_remote_path
from mt_assets.remote.errors import CommandError
from mt_assets.remote.session import SSHSession

MARKER = ".mt-assets-wheel-sha256"
log = logging.getLogger(__name__)

# Runs on the remote with the target's Python. One round trip, under an exclusive lock, so two jobs
# starting on the same host neither create the venv twice nor install over each other.
_ENSURE_SCRIPT = r"""
import fcntl, json, os, subprocess, sys
venv, wheel, sha, deps = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "deps"
os.makedirs(os.path.dirname(venv) or ".", mode=0o700, exist_ok=True)
with open(venv + ".lock", "a") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    py = os.path.join(venv, "bin", "python")
    created = False
    if not os.access(py, os.X_OK):
        subprocess.check_call([sys.executable, "-m", "venv", "--system-site-packages", venv], stdout=sys.stderr)
        created = True
    # The interpreter may itself be a virtualenv (a lab server's env with its CUDA torch): the new
    # venv's --system-site-packages reaches the base Python only, so pip would install every
    # dependency again, torch included. A .pth file puts the interpreter's own packages next.
    # (This script runs with -S, which leaves sys.prefix at the base: find pyvenv.cfg by hand.)
    parent = os.path.dirname(os.path.dirname(sys.executable))
    version = "python%d.%d" % sys.version_info[:2]
    if os.path.isfile(os.path.join(parent, "pyvenv.cfg")) and os.path.realpath(parent) != os.path.realpath(venv):
        with open(os.path.join(venv, "lib", version, "site-packages", "_mt_assets_interpreter.pth"), "w") as f:
            f.write(os.path.join(parent, "lib", version, "site-packages") + "\n")
    marker = os.path.join(venv, sys.argv[5])
    try:
        with open(marker) as f:
            current = f.read().strip()
    except OSError:
        current = ""
    installed = current != sha
    if installed:
        pip = [py, "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
        if deps:
            subprocess.check_call(pip + [wheel], stdout=sys.stderr)
        # same version number, new build: only a forced reinstall replaces it, and without
        # --no-deps it would reinstall every dependency (torch included) as well
        subprocess.check_call(pip + ["--no-deps", "--force-reinstall", wheel], stdout=sys.stderr)
        with open(marker + ".tmp", "w") as f:
            f.write(sha + "\n")
        os.replace(marker + ".tmp", marker)
json.dump({"python": py, "created": created, "installed": installed}, sys.stdout)
"""


@dataclass(frozen=True)
class RemoteVenv:
    python: str  # absolute path of the venv's python on the remote
    created: bool
    installed: bool


def ensure_venv(
    session: SSHSession,
    wheel_remote_path: str,
    wheel_sha256: str,
    *,
    venv_dir: str | None = None,
    install_dependencies: bool = True,
    timeout: float = 3600.0,
) -> RemoteVenv:
    """Create `<workdir>/venv` if needed and install the wheel if its hash changed.

    `install_dependencies=False` installs with `--no-deps`, for hosts whose Python already has the
    dependencies (the venv sees them through --system-site-packages).
    """
    venv = session.absolute(validate_remote_path(venv_dir) if venv_dir else remote_join(session.target.workdir,
                                                                                         "venv"))
    wheel = session.absolute(validate_remote_path(wheel_remote_path, "wheel path"))
    argv = [session.target.python, "-S", "-c", _ENSURE_SCRIPT, venv, wheel, wheel_sha256,
            "deps" if install_dependencies else "no-deps", MARKER]
    log.info("preparing the virtualenv %s on %s (the first time, pip installs the package's dependencies "
             "the remote Python lacks: minutes)", venv, session.target.host_port)
    result = session.call(lambda s: run(s.client, argv, timeout=timeout))
    if result.exit_code != 0:
        raise CommandError(
            f"preparing the virtualenv {venv} on {session.target.host_port} failed (exit {result.exit_code}):\n"
            f"{result.stderr.strip()[-3000:]}"
        )
    return RemoteVenv(**json.loads(result.stdout))


def job_python(session: SSHSession, wheel_cache_dir: Path, install_dependencies: bool = True) -> str:
    """The remote interpreter a job runs with: this package's wheel (built here when its sources
    changed), uploaded once, installed into the job venv when its hash changed."""
    wheel = build_wheel(wheel_cache_dir)
    remote_wheel = upload_wheel(session, session.target.workdir, wheel)
    return ensure_venv(session, remote_wheel, wheel.sha256, install_dependencies=install_dependencies).python
