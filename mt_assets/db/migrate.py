"""Apply the numbered SQL files in sql/ in order, each in its own transaction, and record
them in llm.schema_migrations. Safe to call on every start: a no-op when up to date, and
serialised by an advisory lock when several processes start at once."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from mt_assets.db.connection import connect
from mt_assets.db.errors import DatabaseError
from mt_assets.db.files import project_file

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
SCHEMA_FILE = "schema.sql"  # the generated whole schema (mt_assets.db.schema), never applied
_LOCK_KEY = 0x6D745F61  # "mt_a": any constant shared by all migrators

_BOOKKEEPING = """
create schema if not exists llm;
create table if not exists llm.schema_migrations (
    version    integer primary key,
    name       text not null,
    sha256     text not null,
    applied_at timestamptz not null default now()
);
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(sql_dir: Path | None = None) -> list[Migration]:
    directory = sql_dir or project_file("sql")
    found = []
    for path in sorted(directory.glob("*.sql")):
        if path.name == SCHEMA_FILE:
            continue
        match = _NAME.match(path.name)
        if not match:
            raise DatabaseError(f"{path}: migration files are named NNNN_name.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise DatabaseError(f"{directory}: two migration files share a version number")
    return found


def migrate(url: str, sql_dir: Path | None = None) -> list[Migration]:
    """Bring the database up to date. Returns the migrations applied now."""
    migrations = discover(sql_dir)
    applied_now = []
    with connect(url, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(_BOOKKEEPING)
            recorded = dict(conn.execute("select version, sha256 from llm.schema_migrations").fetchall())
            for migration in migrations:
                if migration.version in recorded:
                    if recorded[migration.version] != migration.sha256:
                        raise DatabaseError(
                            f"{migration.path.name} changed after it was applied; add a new migration "
                            "instead of editing an applied one"
                        )
                    continue
                _apply(conn, migration)
                applied_now.append(migration)
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now


def _apply(conn: psycopg.Connection, migration: Migration) -> None:
    try:
        with conn.transaction():
            conn.execute(migration.sql)
            conn.execute(
                "insert into llm.schema_migrations (version, name, sha256) values (%s, %s, %s)",
                (migration.version, migration.name, migration.sha256),
            )
    except psycopg.Error as err:
        detail = str(err).strip().splitlines()[0]
        raise DatabaseError(
            f"migration {migration.path.name} failed and was rolled back (schema unchanged): {detail}"
        ) from None
