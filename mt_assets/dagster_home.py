"""The Dagster instance directory under MT_HOME and the environment that points at it."""

from __future__ import annotations

import shlex
from pathlib import Path

from mt_assets.db import urls
from mt_assets.db.files import project_file
from mt_assets.settings import Settings


def prepare(settings: Settings) -> Path:
    """Write $DAGSTER_HOME/dagster.yaml from the project's copy (kept in step on every call)."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    wanted = project_file("dagster.yaml").read_text()
    target = home / "dagster.yaml"
    if not target.exists() or target.read_text() != wanted:
        target.write_text(wanted)
    return home


def environment(settings: Settings, database_url: str) -> dict[str, str]:
    return {
        "MT_HOME": str(settings.home),
        "MT_RAW_DIR": str(settings.raw_dir),
        "MT_CONFIG_DIR": str(settings.config_dir),
        "DAGSTER_HOME": str(prepare(settings)),
        "MT_DAGSTER_DATABASE_URL": urls.dagster(database_url),
    }


def export_lines(env: dict[str, str]) -> str:
    return "\n".join(f"export {key}={shlex.quote(value)}" for key, value in env.items())
