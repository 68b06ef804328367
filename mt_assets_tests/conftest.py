"""Shared fixtures: one real PostgreSQL per test session (the embedded server, or the
server at MT_TEST_DATABASE_URL), a migrated template database, and a fresh database
cloned from it for each test that asks for one."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from psycopg import sql

from mt_assets.db import urls
from mt_assets.db.migrate import migrate
from mt_assets.db.server import EmbeddedServer

TEMPLATE_DB = "mt_test_template"
# Files whose tests take a minute or more (seconds measured with 2 xdist workers on 2 cores).
# scripts/test hands whole files to its workers in collection order (--no-loadscope-reorder):
# these go first, so none of them is left running alone at the end while the other core idles.
LONG_FILES = (
    "test_readme_commands.py",  # ~200 s: every README block, SSH training included
    "test_e2e_demo_and_ui.py",  # ~150 s: the demo, then the UI
    "test_retrain_triggers.py",  # ~120 s
    "test_colab_notebook.py",  # ~100 s
    "test_training_gemma.py",  # ~90 s
    "test_evaluation_assets.py",  # ~75 s
    "test_replicates.py",  # ~50 s: two trainings, three model translations
    "test_ssh_training.py",
    "test_translation_launchers.py",
    "test_training_asset.py",
    "test_ssh_launcher.py",
    "test_export_gguf.py",  # ~30 s
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FILES)))  # stable: the rest keep their order


def _admin(url: str) -> psycopg.Connection:
    return psycopg.connect(urls.libpq(urls.with_database(url, "postgres")), autocommit=True)


def _recreate(url: str, name: str, template: str | None = None) -> str:
    with _admin(url) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        create = sql.SQL("create database {}").format(sql.Identifier(name))
        if template:
            create += sql.SQL(" template {}").format(sql.Identifier(template))
        conn.execute(create)
    return urls.with_database(url, name)


def _drop(url: str, name: str) -> None:
    with _admin(url) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def pg_server_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A URL on the session's PostgreSQL server (database `postgres`)."""
    import os

    external = os.environ.get("MT_TEST_DATABASE_URL")
    if external:
        yield urls.with_database(external, "postgres")
        return
    # Not under pytest's basetemp: as root that is mode 0700 and the server's own user
    # could not enter it.
    root = Path(tempfile.mkdtemp(prefix="mt-pg-", dir="/tmp"))
    server = EmbeddedServer(root, database="postgres")
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def template_url(pg_server_url: str) -> str:
    url = _recreate(pg_server_url, TEMPLATE_DB)
    migrate(url)
    return url


@pytest.fixture
def db_url(template_url: str) -> Iterator[str]:
    """A freshly migrated database of its own for this test."""
    name = f"mt_test_{uuid.uuid4().hex[:12]}"
    url = _recreate(template_url, name, template=TEMPLATE_DB)
    yield url
    _drop(template_url, name)


@pytest.fixture
def empty_db_url(pg_server_url: str) -> Iterator[str]:
    """A database with no schema at all."""
    name = f"mt_empty_{uuid.uuid4().hex[:12]}"
    url = _recreate(pg_server_url, name)
    yield url
    _drop(pg_server_url, name)


@pytest.fixture
def mt_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point the settings (MT_*) at a test database and a temporary home."""
    env = {
        "MT_HOME": str(tmp_path / "home"),
        "MT_DATABASE_URL": db_url,
        "MT_RAW_DIR": str(tmp_path / "raw"),
        "MT_CONFIG_DIR": str(tmp_path / "configs"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "raw").mkdir()
    (tmp_path / "configs").mkdir()
    return env


@pytest.fixture(scope="session")
def pg_dagster_instance(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dg.DagsterInstance]:
    """A Dagster instance whose runs and events live in PostgreSQL (dagster-postgres)."""
    url = _recreate(pg_server_url, "mt_test_dagster")
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text(
        "storage:\n  postgres:\n    postgres_url: "
        + repr(urls.dagster(url)).replace("'", '"')
        + "\ntelemetry:\n  enabled: false\n"
    )
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        yield instance
    finally:
        instance.dispose()
