"""One PostgreSQL URL, three spellings: libpq/psql, SQLAlchemy on psycopg 3, and
SQLAlchemy on psycopg2 for dagster-postgres (whose event writes break on psycopg 3)."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from mt_assets.db.errors import DatabaseError

_POSTGRES_DRIVERS = {"postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"}


def parse(url: str, *, source: str = "MT_DATABASE_URL") -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(
            f"{source} is not a database URL: {redact(url)!r}; expected postgresql://USER[:PASSWORD]@HOST[:PORT]/DB"
        ) from None
    if parsed.drivername not in _POSTGRES_DRIVERS:
        raise DatabaseError(
            f"{source} uses {parsed.drivername!r}; mt-assets needs PostgreSQL (postgresql://USER@HOST/DB)"
        )
    if not parsed.database:
        raise DatabaseError(f"{source} names no database: {redact(url)!r}; add /DBNAME after the host")
    return parsed


def _with_scheme(url: str, scheme: str) -> str:
    # Swap only the scheme: re-rendering would percent-encode a socket path in ?host=.
    parse(url)
    return scheme + "://" + url.split("://", 1)[1]


def libpq(url: str) -> str:
    """The URL psql and libpq accept."""
    return _with_scheme(url, "postgresql")


def sqlalchemy(url: str) -> str:
    return _with_scheme(url, "postgresql+psycopg")


def dagster(url: str) -> str:
    return _with_scheme(url, "postgresql+psycopg2")


def with_database(url: str, database: str) -> str:
    return parse(url).set(database=database).render_as_string(hide_password=False)


def redact(url: str) -> str:
    """The URL with any password masked, safe for logs and metadata."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"
