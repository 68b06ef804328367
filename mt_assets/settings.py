"""Where state lives and which database to use, resolved once from the environment.

| variable          | default                                                        |
|-------------------|----------------------------------------------------------------|
| MT_HOME           | ~/.mt-assets; as root /var/lib/mt-assets (the embedded server  |
|                   | runs as a system user, which cannot enter /root)               |
| MT_DATABASE_URL   | unset: the embedded PostgreSQL server under MT_HOME/postgres   |
| MT_RAW_DIR        | MT_HOME/raw                                                    |
| MT_CONFIG_DIR     | ./configs                                                      |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


def _default_home(environ: Mapping[str, str]) -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/mt-assets")
    return Path(environ.get("HOME", "~")).expanduser() / ".mt-assets"


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str | None
    raw_dir: Path
    config_dir: Path

    @property
    def postgres_dir(self) -> Path:
        return self.home / "postgres"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("MT_HOME") or _default_home(env)).expanduser().absolute()
        return cls(
            home=home,
            database_url=env.get("MT_DATABASE_URL") or None,
            raw_dir=Path(env.get("MT_RAW_DIR") or home / "raw").expanduser().absolute(),
            config_dir=Path(env.get("MT_CONFIG_DIR") or "configs").expanduser().absolute(),
        )
