"""Helpers for the ingest tests: write raw files, load a directory, read back what was stored."""

from __future__ import annotations

from pathlib import Path

import psycopg

from mt_assets.db.connection import connect
from mt_assets.ingest.load import EditionLoad, load_files
from mt_assets.ingest.manifest import discover

HEADER = "source_text\tsource_paragraph\tsource_reference\tofficial_translate\tsource_language\n"


def tsv(*rows: str, header: str = HEADER) -> str:
    return header + "".join(row + "\n" for row in rows)


def write(directory: Path, name: str, content: str | bytes) -> Path:
    path = directory / name
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def load_dir(db_url: str, raw_dir: Path) -> tuple[list[EditionLoad], list[str]]:
    """Load every file under raw_dir; returns the per-file outcomes and the discovery problems."""
    found = discover(raw_dir)
    with connect(db_url) as conn:
        loads = load_files(conn, found.files)
    return loads, [str(p) for p in found.problems]


def query(db_url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(sql, params).fetchall()


def rejected(db_url: str) -> list[tuple[int, str, str]]:
    return query(db_url, "select line_number, reason, raw_content from llm.rejected_rows order by line_number")


def stored(db_url: str) -> list[tuple]:
    return query(
        db_url,
        "select source_reference, source_paragraph, source_text, official_translate, source_language "
        "from llm.dataset order by id",
    )
