"""`mt-assets db ...`, `env`, and how `dev` and `demo` stop, run as real subprocesses against real servers."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
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


@pytest.fixture
def reap() -> Iterator[list[psutil.Process]]:
    """Processes a test watches: those still alive at teardown (a failed test) are killed."""
    watched: list[psutil.Process] = []
    yield watched
    for proc in watched:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # what a non-interactive shell does for `cmd &`


def background(args: list[str], env: dict[str, str], log: Path, *, own_session: bool) -> subprocess.Popen:
    """The CLI started as a shell's `&` / nohup / a service manager would: SIGINT ignored, in the
    starting shell's session or (setsid, systemd) its own."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MT_", "DAGSTER_"))}
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "mt_assets.cli", *args],
            env={**clean, **env, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=_ignore_sigint, start_new_session=own_session,
        )


def process_tree(pid: int, postgres_dir: Path) -> list[psutil.Process]:
    """The command, all its descendants, and the embedded server's postmaster with its children
    (pg_ctl detaches the postmaster from whoever started it)."""
    root = psutil.Process(pid)
    postmaster = psutil.Process(int((postgres_dir / "data" / "postmaster.pid").read_text().split()[0]))
    return [root, *root.children(recursive=True), postmaster, *postmaster.children(recursive=True)]


def command_lines(procs: list[psutil.Process]) -> str:
    """Their command lines; a short-lived helper may exit between the listing and the read."""
    lines = []
    for proc in procs:
        try:
            lines.append(" ".join(proc.cmdline()))
        except psutil.NoSuchProcess:
            pass
    return "\n".join(lines)


def left_running(procs: list[psutil.Process]) -> list[str]:
    """Those still alive; a zombie holds no port, memory or lock, so it counts as gone."""
    alive = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{proc.pid} {' '.join(proc.cmdline())[:100]}")
        except psutil.NoSuchProcess:
            pass
    return alive


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a server binds it
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_dev_started_in_the_background_stops_everything_on_sigint(mt_home, tmp_path, reap):
    """`mt-assets dev`, started with SIGINT ignored, serves the UI; one SIGINT to the command alone
    leaves no process of it, nor the embedded server it started, and frees the port for the next
    `mt-assets dev`. SIGTERM and SIGHUP reach the same Supervisor: `test_supervisor_leaves_no_process_behind`
    sends each of them, and `test_demo_stops_everything_on_a_hangup` a hangup to a whole demo."""
    signum, own_session = signal.SIGINT, False
    env = {"MT_HOME": str(mt_home), "MT_CONFIG_DIR": str(tmp_path), "MT_RAW_DIR": str(tmp_path / "raw")}
    assert run(["db", "status"], env).returncode == 3  # stopped: `dev` must start it
    port = free_port()
    log = tmp_path / "dev.log"
    proc = background(["dev", "--port", str(port)], env, log, own_session=own_session)
    tree: list[psutil.Process] = []
    try:
        wait_ready(proc, f"http://127.0.0.1:{port}", log)
        tree = process_tree(proc.pid, mt_home / "postgres")
        reap.extend(tree)
        commands = command_lines(tree)
        for part in ("dagster dev", "dagster_webserver", "dagster._daemon", "dagster code-server", "postgres -D"):
            assert part in commands, f"no {part!r} process in the tree:\n{commands}"
        proc.send_signal(signum)
        assert proc.wait(timeout=180) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert f"{signal.Signals(signum).name} received, stopping" in log.read_text()
    assert left_running(tree) == [], log.read_text()[-3000:]
    assert port_is_free(port)
    assert run(["db", "status"], env).returncode == 3, "the embedded server `dev` started is stopped"
    assert "embedded PostgreSQL stopped" in log.read_text()


def test_demo_stops_everything_on_a_hangup(mt_home, tmp_path, reap):
    """`mt-assets demo` runs its work as the same supervised child: a closing terminal's SIGHUP
    mid-run stops the child, its processes and the embedded server it started; the exit status
    says it did not finish."""
    env = {"MT_HOME": str(mt_home), "MT_RAW_DIR": str(tmp_path / "raw")}  # the project's configs/
    log = tmp_path / "demo.log"
    proc = background(["demo"], env, log, own_session=False)
    tree: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 180
        while "step 1/" not in log.read_text() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert proc.poll() is None and "step 1/" in log.read_text(), log.read_text()[-3000:]
        tree = process_tree(proc.pid, mt_home / "postgres")
        reap.extend(tree)
        commands = command_lines(tree)
        proc.send_signal(signal.SIGHUP)
        assert proc.wait(timeout=180) != 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert left_running(tree) == [], log.read_text()[-3000:]
    assert run(["db", "status"], env).returncode == 3, "the embedded server the demo started is stopped"
    assert "SIGHUP received, stopping" in log.read_text()
    assert "-m mt_assets.demo" in commands, "the demo runs as the supervised child"


def test_a_supervised_command_stops_only_the_server_it_started(mt_home):
    from mt_assets.cli import _database_for
    from mt_assets.db.server import EmbeddedServer
    from mt_assets.settings import Settings
    from mt_assets.supervise import Supervisor

    settings = Settings.from_env({"MT_HOME": str(mt_home)})
    server = EmbeddedServer(settings.postgres_dir)
    supervisor = Supervisor("test")  # not entered: only its stopped_by is read

    with _database_for(settings, supervisor, keep_when_done=False):
        assert server.status().running
    assert not server.status().running, "`dev` stops the server it started"

    server.start()
    with _database_for(settings, supervisor, keep_when_done=False):
        pass
    assert server.status().running, "a server someone else started keeps running"
    server.stop()

    with _database_for(settings, supervisor, keep_when_done=True):
        pass
    assert server.status().running, "a finished demo keeps its server for psql and `mt-assets dev`"
    server.stop()
    with _database_for(settings, supervisor, keep_when_done=True):
        supervisor.stopped_by = signal.SIGTERM
    assert not server.status().running, "a stopped demo stops the server it started"


SUPERVISED = """
import signal, subprocess, sys, time
from collections.abc import Iterator
from pathlib import Path
if sys.argv[1] == "ignore-sigint":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
# Like the local launcher's training process: its own session, outside its parent's group.
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
Path(sys.argv[2]).write_text(str(grandchild.pid))
try:
    time.sleep(600)
except KeyboardInterrupt:
    sys.exit(0)  # exits alone: the grandchild is orphaned
"""
SUPERVISOR = """
import sys
from mt_assets.supervise import Supervisor
with Supervisor("test", grace=2) as supervisor:
    code = supervisor.run([sys.executable, "-c", sys.argv[1], *sys.argv[2:]])
print("exit", code, flush=True)
"""


@pytest.mark.parametrize(
    "child, signals, nohup, exit_line",
    [
        ("exits-on-sigint", [signal.SIGTERM], False, "exit 0"),  # a service manager's stop
        ("exits-on-sigint", [signal.SIGHUP], False, "exit 0"),  # a closing terminal
        ("ignore-sigint", [signal.SIGINT], False, "exit 137"),  # killed once the grace period is over
        ("exits-on-sigint", [signal.SIGHUP, signal.SIGTERM], True, "exit 0"),  # under nohup, SIGHUP is ignored
    ],
    ids=["orphan-in-own-session", "hangup", "child-ignores-sigint", "nohup"],
)
def test_supervisor_leaves_no_process_behind(child, signals, nohup, exit_line, tmp_path, reap):
    pid_file = tmp_path / "grandchild.pid"

    def setup() -> None:
        _ignore_sigint()
        if nohup:
            signal.signal(signal.SIGHUP, signal.SIG_IGN)

    proc = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, SUPERVISED, child, str(pid_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=setup,
    )
    try:
        deadline = time.monotonic() + 60
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        grandchild = psutil.Process(int(pid_file.read_text()))
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        reap.extend(tree)
        assert grandchild in tree
        for signum in signals:
            proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert exit_line in out, err
    # It names the signal it acted on; under nohup that is not the hangup.
    assert f"{signals[-1].name} received, stopping" in err
    assert not nohup or "SIGHUP" not in err
    assert left_running([*tree, grandchild]) == [], err
