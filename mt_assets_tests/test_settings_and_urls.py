from pathlib import Path

import pytest

from mt_assets.db import DatabaseError, urls
from mt_assets.settings import Settings


def test_defaults_follow_mt_home():
    s = Settings.from_env({"MT_HOME": "/srv/mt", "HOME": "/home/u"})
    assert s.home == Path("/srv/mt")
    assert s.raw_dir == Path("/srv/mt/raw")
    assert s.postgres_dir == Path("/srv/mt/postgres")
    assert s.dagster_home == Path("/srv/mt/dagster")
    assert s.embedded and s.database_url is None


def test_external_url_disables_embedded():
    s = Settings.from_env({"MT_HOME": "/srv/mt", "MT_DATABASE_URL": "postgresql://u@db/x"})
    assert not s.embedded


@pytest.mark.parametrize(
    "url, fn, expected",
    [
        ("postgresql://u:pw@h:5/db", urls.libpq, "postgresql://u:pw@h:5/db"),
        ("postgres://u@/db?host=/tmp/s", urls.sqlalchemy, "postgresql+psycopg://u@/db?host=/tmp/s"),
        ("postgresql://u@/db?host=/tmp/s", urls.dagster, "postgresql+psycopg2://u@/db?host=/tmp/s"),
    ],
)
def test_url_spellings(url, fn, expected):
    assert fn(url) == expected


def test_redact_hides_password():
    assert "secret" not in urls.redact("postgresql://u:secret@h/db")


@pytest.mark.parametrize(
    "bad, says",
    [
        ("not a url", "is not a database URL"),
        ("mysql://u@h/db", "needs PostgreSQL"),
        ("postgresql://u:secret@h", "names no database"),
    ],
)
def test_malformed_url_is_one_clear_line(bad, says):
    with pytest.raises(DatabaseError, match=says) as info:
        urls.parse(bad)
    assert "secret" not in str(info.value)
    assert "\n" not in str(info.value)
