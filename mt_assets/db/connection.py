"""Resolve which PostgreSQL to use from the settings, start it if it is ours, migrate it."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine

from mt_assets.db import urls
from mt_assets.db.migrate import connect, migrate
from mt_assets.db.server import EmbeddedServer
from mt_assets.settings import Settings


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
    url = database_url(settings)
    migrate(url)
    return url


def make_engine(url: str) -> Engine:
    # Fail with our one-line message before SQLAlchemy's pool hides it in a traceback.
    connect(url).close()
    return create_engine(urls.sqlalchemy(url), pool_pre_ping=True)
