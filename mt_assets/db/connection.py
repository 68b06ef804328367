"""The one way to reach the project's PostgreSQL: `connect` (psycopg 3) for domain code, the URL
resolved from the settings (starting the embedded server if it is ours, migrating it), and a
SQLAlchemy engine for users who read the database from pandas (`DatabaseResource.engine`)."""

from __future__ import annotations

import psycopg
from sqlalchemy import Engine, create_engine

from mt_assets.db import urls
from mt_assets.db.errors import DatabaseError
from mt_assets.db.server import EmbeddedServer
from mt_assets.settings import Settings


def connect(url: str, **kwargs) -> psycopg.Connection:
    """A psycopg connection (`kwargs` as psycopg.connect's, e.g. autocommit=True), or a
    DatabaseError with one line saying why not and what to do."""
    try:
        return psycopg.connect(urls.libpq(url), **kwargs)
    except psycopg.OperationalError as err:
        reason = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise DatabaseError(
            f"cannot connect to PostgreSQL at {urls.redact(url)}: {reason}. "
            "Start the embedded server with `mt-assets db start`, or check MT_DATABASE_URL"
        ) from None


def database_url(settings: Settings, *, start: bool = True) -> str:
    """The database URL: MT_DATABASE_URL when set (no embedded server is ever started),
    otherwise the embedded server under MT_HOME, started when `start` is true."""
    if settings.database_url is not None:
        urls.parse(settings.database_url)
        return settings.database_url
    server = EmbeddedServer(settings.postgres_dir)
    return server.start() if start else server.url()


def ready_database_url(settings: Settings) -> str:
    """The database URL with the schema migrated: what every command and resource uses."""
    from mt_assets.db.migrate import migrate  # migrate imports connect from here

    url = database_url(settings)
    migrate(url)
    return url


def make_engine(url: str) -> Engine:
    """A SQLAlchemy engine (psycopg 3 driver), for reading the database from pandas; the
    project's own code runs its SQL on `connect`'s connections."""
    # Fail with our one-line message before SQLAlchemy's pool hides it in a traceback.
    connect(url).close()
    return create_engine(urls.sqlalchemy(url), pool_pre_ping=True)
