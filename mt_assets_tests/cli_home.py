"""A throwaway MT_HOME for tests that drive the real CLI as a user would: tiny configs over the
real Quran sample, an environment without the caller's MT_/DAGSTER_ settings, and on exit the
embedded server stopped and the home removed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mt_assets_tests.tiny_models import QURAN_CONFIG


def cli(*args: str, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mt_assets.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


@contextmanager
def quran_home(prefix: str, names: tuple[str, ...], model: Path, description: str) -> Iterator[dict[str, str]]:
    """The environment of a fresh home whose MT_CONFIG_DIR holds one QURAN_CONFIG per name."""
    home = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    home.chmod(0o755)  # the embedded server's own user must be able to enter it
    configs = home / "configs"
    configs.mkdir()
    for name in names:
        (configs / f"{name}.yaml").write_text(QURAN_CONFIG.format(name=name, model=model, description=description))
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MT_", "DAGSTER_"))}
    env = {**clean, "MT_HOME": str(home / "state"), "MT_CONFIG_DIR": str(configs), "MT_RAW_DIR": str(home / "raw"),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    try:
        yield env
    finally:
        cli("db", "stop", env=env, timeout=300)
        shutil.rmtree(home, ignore_errors=True)
