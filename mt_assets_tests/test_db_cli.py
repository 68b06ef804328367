"""`mt-assets db ...` and `mt-assets env` run as real subprocesses against real servers."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest

import mt_assets
from mt_assets_tests.dagster_ui import free_port, wait_ready

REPO = Path(mt_assets.__file__).resolve().parent.parent


def run(args: list[str], env: dict[str, str], **kw) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MT_", "DAGSTER_"))}
    return subprocess.run(
        [sys.executable, "-m", "mt_assets.cli", *args],
        env={**clean, **env}, capture_output=True, text=True, timeout=180, **kw,
    )


@pytest.fixture
def mt_home():
    # The server runs as its own user when we are root, so keep it out of pytest's 0700 basetemp.
    home = Path(tempfile.mkdtemp(prefix="mt-home-", dir="/tmp"))
    home.chmod(0o755)
    yield home
    run(["db", "stop"], {"MT_HOME": str(home)})
    shutil.rmtree(home, ignore_errors=True)


def test_start_is_idempotent_and_data_survives_restart(mt_home):
    env = {"MT_HOME": str(mt_home)}
    first = run(["db", "start"], env)
    assert first.returncode == 0, first.stderr
    assert "started" in first.stderr
    second = run(["db", "start"], env)
    assert second.returncode == 0 and "already running" in second.stderr

    url = run(["db", "url"], env).stdout.strip()
    assert url.startswith("postgresql://")
    psql = subprocess.run(
        ["psql", url, "-Atc", "select count(*) from information_schema.tables where table_schema='llm'"],
        capture_output=True, text=True,
    )
    assert psql.returncode == 0, psql.stderr
    assert int(psql.stdout) >= 12

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("insert into llm.dataset_editions (name) values ('kept')")
    assert run(["db", "status"], env).returncode == 0
    stop = run(["db", "stop"], env)
    assert stop.returncode == 0 and "stopped" in stop.stderr
    status = run(["db", "status"], env)
    assert status.returncode == 3 and "stopped" in status.stdout
    assert run(["db", "stop"], env).stderr.strip() == "embedded PostgreSQL was not running"

    assert run(["db", "start"], env).returncode == 0
    with psycopg.connect(url) as conn:
        assert conn.execute("select name from llm.dataset_editions").fetchall() == [("kept",)]


def test_env_exports_a_working_dagster_setup(mt_home):
    env = {"MT_HOME": str(mt_home)}
    out = run(["env"], env)
    assert out.returncode == 0, out.stderr
    script = out.stdout + "\ndagster definitions validate -m mt_assets\n"
    bindir = str(Path(sys.executable).parent)
    validate = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=300, cwd=mt_home,
        env={"PATH": f"{bindir}:{os.environ['PATH']}", "HOME": str(mt_home)},
    )
    assert validate.returncode == 0, validate.stderr[-2000:]
    assert "Validation successful" in validate.stdout + validate.stderr
    assert (mt_home / "dagster" / "dagster.yaml").exists()
    assert "export MT_DAGSTER_DATABASE_URL=" in out.stdout and "postgresql+psycopg2://" in out.stdout


def test_external_url_starts_no_server(db_url, tmp_path):
    env = {"MT_HOME": str(tmp_path / "home"), "MT_DATABASE_URL": db_url}
    assert run(["db", "url"], env).stdout.strip() == db_url
    refused = run(["db", "start"], env)
    assert refused.returncode == 1
    assert "MT_DATABASE_URL is set, so there is no embedded server to start" in refused.stderr
    assert run(["env"], env).returncode == 0
    assert run(["db", "migrate"], env).stdout.startswith("applied 0 migration(s)")
    assert not (tmp_path / "home" / "postgres").exists()


@pytest.mark.parametrize(
    "url, says",
    [
        ("postgresql://u@127.0.0.1:1/mt", "cannot connect to PostgreSQL at postgresql://u@127.0.0.1:1/mt"),
        ("mysql://u@h/db", "needs PostgreSQL"),
        ("postgresql://u:hunter2@127.0.0.1:1/mt", "cannot connect"),
    ],
)
def test_bad_database_url_is_one_line(url, says, tmp_path):
    out = run(["db", "migrate"], {"MT_HOME": str(tmp_path), "MT_DATABASE_URL": url})
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0]
    assert "hunter2" not in out.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="checks the root-only path")
def test_root_refuses_a_home_the_server_user_cannot_enter(tmp_path):
    private = Path(tempfile.mkdtemp(prefix="mt-private-", dir="/tmp"))  # mode 0700
    try:
        out = run(["db", "start"], {"MT_HOME": str(private / "home")})
        assert out.returncode == 1
        assert "cannot enter" in out.stderr and str(private) in out.stderr
        assert oct(private.stat().st_mode & 0o777) == "0o700", "must not widen permissions"
    finally:
        shutil.rmtree(private)


def test_data_dir_locked_by_another_server(mt_home):
    """A server started on the same data directory by someone else (another socket)."""
    env = {"MT_HOME": str(mt_home)}
    assert run(["db", "start"], env).returncode == 0
    (mt_home / "postgres" / ".s.PGSQL.5432").rename(mt_home / "postgres" / "moved")
    try:
        out = run(["db", "start"], env)
        assert out.returncode == 1
        assert "is locked by another PostgreSQL server" in out.stderr
    finally:
        (mt_home / "postgres" / "moved").rename(mt_home / "postgres" / ".s.PGSQL.5432")


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/usr/bin/python3.11").exists(), reason="needs root to switch user")
def test_works_as_a_normal_user():
    """Run the CLI as `nobody` with the system Python 3.11 and this environment's packages."""
    home = Path(tempfile.mkdtemp(prefix="mt-user-", dir="/tmp"))
    shutil.chown(home, "nobody")
    paths = [str(REPO), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    env = {"MT_HOME": str(home / "state"), "PYTHONPATH": os.pathsep.join(paths), "HOME": str(home), "PATH": os.environ["PATH"]}

    def as_nobody(*args):
        return subprocess.run(
            ["runuser", "-u", "nobody", "--", "/usr/bin/python3.11", "-m", "mt_assets.cli", *args],
            env=env, capture_output=True, text=True, timeout=180,
        )

    try:
        started = as_nobody("db", "start")
        assert started.returncode == 0, started.stderr
        data = home / "state" / "postgres" / "data"
        assert data.stat().st_uid == shutil._get_uid("nobody")
        assert as_nobody("db", "status").returncode == 0
        assert as_nobody("db", "stop").returncode == 0
    finally:
        as_nobody("db", "stop")
        shutil.rmtree(home, ignore_errors=True)


def test_dev_serves_the_ui_and_ctrl_c_stops_it_and_the_database(mt_home, tmp_path):
    """`mt-assets dev` starts the embedded server and `dagster dev`; Ctrl-C (SIGINT to the command,
    as a terminal sends it) stops both."""
    env = {"MT_HOME": str(mt_home), "MT_CONFIG_DIR": str(tmp_path), "MT_RAW_DIR": str(tmp_path / "raw")}
    assert run(["db", "status"], env).returncode == 3  # stopped: `dev` must start it
    port = free_port()
    log = tmp_path / "dev.log"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MT_", "DAGSTER_"))}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mt_assets.cli", "dev", "--port", str(port)],
            env={**clean, **env, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
            stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(proc, f"http://127.0.0.1:{port}", log)
        assert run(["db", "status"], env).returncode == 0
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5)
    assert run(["db", "status"], env).returncode == 3, "the embedded server `dev` started is stopped"
    assert "embedded PostgreSQL stopped" in log.read_text()
