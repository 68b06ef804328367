"""One ConfigurableResource per external system."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import psycopg
from pydantic import PrivateAttr
from sqlalchemy import Engine

from mt_assets.db.connection import connect, make_engine, ready_database_url
from mt_assets.settings import Settings


class DatabaseResource(dg.ConfigurableResource):
    """The project's PostgreSQL, migrated on first use.

    `url` unset means the embedded server under MT_HOME (started if needed); set it with
    dg.EnvVar("MT_DATABASE_URL") for an external server so the password stays out of the UI.

    Assets reach the database through `connect()` (psycopg 3, the project's one database
    idiom); `engine` is for users who read the database from pandas.
    """

    url: str | None = None
    _url: str | None = PrivateAttr(default=None)
    _engine: Engine | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        settings = Settings.from_env()
        if self.url:
            settings = Settings(settings.home, self.url, settings.raw_dir, settings.config_dir)
        self._url = ready_database_url(settings)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def _ready_url(self) -> str:
        if self._url is None:
            raise RuntimeError("DatabaseResource used outside a Dagster run; call setup_for_execution first")
        return self._url

    @contextmanager
    def connect(self, **kwargs) -> Iterator[psycopg.Connection]:
        """A new psycopg connection for one unit of work (`kwargs` as psycopg.connect's, e.g.
        autocommit=True); as psycopg's own `with`: committed at the end unless the block
        raises, then closed. The one way assets and sensors get a connection."""
        with connect(self._ready_url(), **kwargs) as conn:
            yield conn

    @property
    def engine(self) -> Engine:
        """A SQLAlchemy engine (psycopg 3 driver) for users who reach the database from pandas,
        e.g. `pd.read_sql("select * from llm.evaluation", database.engine)`. The project's own
        code does not use it: its SQL runs on `connect()`."""
        if self._engine is None:
            self._engine = make_engine(self._ready_url())
        return self._engine
