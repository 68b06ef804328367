"""The README's example queries run against the real schema: a renamed column or table breaks
this test, not a user's first query."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
QUERIES = re.findall(r"```sql\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_example_queries():
    assert len(QUERIES) >= 5


@pytest.mark.parametrize("query", QUERIES, ids=[q.splitlines()[0].lstrip("- ")[:50] for q in QUERIES])
def test_readme_query_runs_on_the_schema(db_url, query):
    with psycopg.connect(db_url) as conn:
        cursor = conn.execute(query)
        assert cursor.description, "each example query returns rows"
