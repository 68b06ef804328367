"""One ConfigurableResource per external system."""

from __future__ import annotations

import dagster as dg
from pydantic import PrivateAttr
from sqlalchemy import Engine

from mt_assets.db.connection import make_engine, ready_database_url
from mt_assets.settings import Settings


class DatabaseResource(dg.ConfigurableResource):
    """The project's PostgreSQL, migrated on first use.

    `url` unset means the embedded server under MT_HOME (started if needed); set it with
    dg.EnvVar("MT_DATABASE_URL") for an external server so the password stays out of the UI.
    """

    url: str | None = None
    _url: str | None = PrivateAttr(default=None)
    _engine: Engine | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        settings = Settings.from_env()
        if self.url:
            settings = Settings(settings.home, self.url, settings.raw_dir, settings.config_dir)
        self._url = ready_database_url(settings)
        self._engine = make_engine(self._url)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._engine is not None:
            self._engine.dispose()

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("DatabaseResource used outside a Dagster run; call setup_for_execution first")
        return self._engine

    @property
    def connection_url(self) -> str:
        """For psycopg COPY; never put it in metadata or logs (it may hold a password)."""
        if self._url is None:
            raise RuntimeError("DatabaseResource used outside a Dagster run; call setup_for_execution first")
        return self._url
