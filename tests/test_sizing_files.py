"""The sizing calculator's files, proven for real.

settings.py is executed and its DATABASES loaded by Django against the suite's
PostgreSQL; gunicorn.conf.py goes through gunicorn's own config loader; pgbouncer.ini
starts the real PgBouncer (1.18 here), with only its port, paths and upstream server
rewritten, and Django's queries go through it.
"""

import os
import re
import shutil
import signal
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg_pool
import pytest
import sqlalchemy.exc
from django.conf import settings
from django.db.utils import ConnectionHandler
from gunicorn.app.base import Application

from lessons import sizing
from lessons.services.processes import free_port, spawn, stop, wait_for

from .support import require

PGBOUNCER = os.environ.get("PGBOUNCER_BIN") or shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
# PgBouncer refuses to run as root; started as root, `-u` makes it take this identity.
UNPRIVILEGED = "nobody"
# A password for PgBouncer's auth_file when the suite's server trusts loopback.
TEST_PASSWORD = "sizing-test"


def size(**raw) -> dict:
    return sizing.size(raw, max_connections=100)


@pytest.fixture
def server(django_db_setup, monkeypatch) -> dict:
    """The suite's PostgreSQL, named in the environment as the generated settings read it."""
    db = settings.DATABASES["default"]
    env = {
        "PGHOST": db["HOST"],
        "PGPORT": str(db["PORT"]),
        "PGDATABASE": db["NAME"],
        "PGUSER": db["USER"],
        "PGPASSWORD": db["PASSWORD"] or TEST_PASSWORD,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def load_databases(text: str) -> dict:
    namespace: dict = {}
    exec(compile(text, "settings.py", "exec"), namespace)
    return namespace["DATABASES"]


@contextmanager
def django_alias(answer: dict, blocker) -> Iterator[tuple[ConnectionHandler, str]]:
    """The generated DATABASES loaded by Django, under an alias no other test uses.

    Pools are kept per alias for the whole process (Django's and dj_db_conn_pool's), so
    a fresh name keeps this pool apart from the lab's.
    """
    alias = f"sizing-{uuid.uuid4().hex[:8]}"
    entry = load_databases(answer["files"]["settings.py"])["default"]
    # Django insists on a "default"; a dummy one, never connected.
    handler = ConnectionHandler({"default": {"ENGINE": "django.db.backends.dummy"}, alias: entry})
    with blocker.unblock():
        try:
            yield handler, alias
        finally:
            wrapper = handler[alias]
            wrapper.close()
            if hasattr(wrapper, "close_pool"):
                wrapper.close_pool()
            _dispose_dbcp_pool(alias)


def _dispose_dbcp_pool(alias: str) -> None:
    from dj_db_conn_pool.core import pool_container

    pool = pool_container.pop(alias, None)
    if pool is not None:
        pool.dispose()


def select_one(wrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone()[0]


def test_no_pool_settings_close_the_connection_after_each_request(server, django_db_blocker):
    with django_alias(size(strategy="no-pool"), django_db_blocker) as (handler, alias):
        wrapper = handler[alias]
        assert select_one(wrapper) == 1
        # What Django runs at request_finished: CONN_MAX_AGE 0 closes it.
        wrapper.close_if_unusable_or_obsolete()
        assert wrapper.connection is None


def test_persistent_settings_keep_the_connection_with_health_checks(server, django_db_blocker):
    answer = size(strategy="persistent", conn_max_age="120", health_checks="true")
    with django_alias(answer, django_db_blocker) as (handler, alias):
        wrapper = handler[alias]
        assert select_one(wrapper) == 1
        wrapper.close_if_unusable_or_obsolete()
        assert wrapper.connection is not None  # kept for the next request
        assert wrapper.settings_dict["CONN_MAX_AGE"] == 120
        assert wrapper.settings_dict["CONN_HEALTH_CHECKS"] is True


def test_native_pool_settings_give_a_psycopg_pool_of_the_chosen_size(server, django_db_blocker):
    answer = size(strategy="native-pool", threads=3, max_size=3, timeout="0.2")
    with django_alias(answer, django_db_blocker) as (handler, alias):
        wrapper = handler[alias]
        assert select_one(wrapper) == 1
        pool = wrapper.pool
        assert isinstance(pool, psycopg_pool.ConnectionPool)
        assert (pool.min_size, pool.max_size) == (3, 3)
        # Django holds one; two more can be taken, and the fourth waits, then times out.
        taken = [pool.getconn(timeout=5) for _ in range(2)]
        with pytest.raises(psycopg_pool.PoolTimeout):
            pool.getconn(timeout=0.2)
        for conn in taken:
            pool.putconn(conn)


def test_dbcp_settings_give_a_queuepool_of_size_plus_overflow(server, django_db_blocker):
    from dj_db_conn_pool.core import pool_container

    answer = size(strategy="dbcp", threads=3, pool_size=2, max_overflow=1, timeout="0.2")
    with django_alias(answer, django_db_blocker) as (handler, alias):
        wrapper = handler[alias]
        assert wrapper.settings_dict["ENGINE"] == "dj_db_conn_pool.backends.postgresql"
        assert select_one(wrapper) == 1
        pool = pool_container.get(alias)
        assert pool.size() == 2
        # Django holds one; POOL_SIZE 2 + MAX_OVERFLOW 1 leaves two more, then TIMEOUT.
        taken = [pool.connect() for _ in range(2)]
        with pytest.raises(sqlalchemy.exc.TimeoutError, match="QueuePool limit of size 2"):
            pool.connect()
        for conn in taken:
            conn.close()


class _Config(Application):
    """gunicorn's own loader, pointed at one file and nothing else (no command line)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.names: dict = {}
        super().__init__()

    def load_config(self) -> None:
        self.names = self.load_config_from_file(str(self.path))

    def load(self):
        raise AssertionError("only the configuration is loaded")


@pytest.mark.parametrize("strategy", ["no-pool", "persistent", "native-pool", "dbcp",
                                      "pgbouncer-transaction"])  # fmt: skip
def test_gunicorn_reads_back_the_workers_and_threads(strategy, tmp_path):
    answer = size(strategy=strategy, workers=3, threads=5, max_size=5)
    path = tmp_path / "gunicorn.conf.py"
    path.write_text(answer["files"]["gunicorn.conf.py"])
    loaded = _Config(path)
    cfg = loaded.cfg
    assert (cfg.workers, cfg.threads) == (3, 5)
    assert cfg.worker_class_str == "gthread"
    assert cfg.worker_class.__name__ == "ThreadWorker"  # gunicorn resolved the class
    assert cfg.preload_app is False
    # gunicorn ignores names it does not know: every name in the file must be a setting.
    names = {k for k in loaded.names if not k.startswith("__")}
    assert names <= set(cfg.settings), names - set(cfg.settings)


def _rewrite(ini: str, port: int, work: Path, server: dict) -> str:
    """Point the generated file at this test: its port, its files, the suite's PostgreSQL."""
    rewrites = [
        (r"^listen_port = \d+$", f"listen_port = {port}"),
        (r"^auth_file = .*$", f"auth_file = {work / 'userlist.txt'}"),
        (r"^logfile = .*$", f"logfile = {work / 'pgbouncer.log'}"),
        (r"^pidfile = .*$", f"pidfile = {work / 'pgbouncer.pid'}"),
        (
            r"host=127\.0\.0\.1 port=5432 dbname=app ",
            f"host={server['PGHOST']} port={server['PGPORT']} dbname={server['PGDATABASE']} ",
        ),
    ]
    for pattern, replacement in rewrites:
        ini, found = re.subn(pattern, replacement, ini, flags=re.MULTILINE)
        assert found == 1, f"{pattern!r} is not in the generated pgbouncer.ini once"
    return ini


@contextmanager
def pgbouncer(ini: str, server: dict) -> Iterator[tuple[int, object, Path]]:
    """The real PgBouncer on the generated file; yields its port, process and log."""
    require(Path(PGBOUNCER).exists(), f"pgbouncer is not installed ({PGBOUNCER})")
    work = Path(tempfile.mkdtemp(prefix="pooling-lab-sizing-"))
    port = free_port()
    (work / "pgbouncer.ini").write_text(_rewrite(ini, port, work, server))
    (work / "userlist.txt").write_text(f'"{server["PGUSER"]}" "{server["PGPASSWORD"]}"\n')
    cmd = [PGBOUNCER, str(work / "pgbouncer.ini")]
    if os.geteuid() == 0:
        cmd[1:1] = ["-u", UNPRIVILEGED]
        for path in [work, *work.iterdir()]:
            shutil.chown(path, UNPRIVILEGED)
    proc = spawn(cmd, log_path=work / "output.log")
    try:
        yield port, proc, work / "output.log"
    finally:
        stop(proc, signal.SIGTERM)  # SIGTERM: PgBouncer's immediate shutdown
        shutil.rmtree(work, ignore_errors=True)


def _wait_until_listening(port: int, proc, log: Path) -> None:
    try:
        wait_for(lambda: _listening(port), timeout=10, proc=proc, what="PgBouncer")
    except (RuntimeError, TimeoutError) as exc:
        raise AssertionError(f"{exc}; its output:\n{log.read_text()[-2000:]}") from exc


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


@pytest.mark.parametrize("mode", ["session", "transaction"])
def test_pgbouncer_118_runs_the_generated_ini_and_caps_the_server_connections(
    mode, server, django_db_blocker, monkeypatch
):
    answer = size(
        strategy=f"pgbouncer-{mode}",
        workers=1,
        threads=5,
        pgbouncer_pool_size=2,
        pgbouncer_reserve_pool=1,
        pgbouncer_version="1.18",
    )
    with pgbouncer(answer["files"]["pgbouncer.ini"], server) as (port, proc, log):
        _wait_until_listening(port, proc, log)
        monkeypatch.setenv("PGBOUNCER_PORT", str(port))
        with django_alias(answer, django_db_blocker) as (handler, alias):
            assert handler[alias].settings_dict["PORT"] == str(port)  # PgBouncer's, not PG's
            seen, elapsed = _five_clients_at_once(handler, alias)
    assert len(seen) == 5  # every client served, none refused
    # Through PgBouncer's "app" to the suite's database on PostgreSQL's own port.
    assert {(db, server_port) for _, db, server_port in seen} == {
        (server["PGDATABASE"], int(server["PGPORT"]))
    }
    # 5 clients, pool_size 2: at most 2 backends (the reserve waits 5 s before opening),
    # so the 0.3 s queries run in at least 3 rounds.
    assert len({pid for pid, _, _ in seen}) <= 2
    assert elapsed >= 0.9, elapsed


def _five_clients_at_once(handler: ConnectionHandler, alias: str) -> tuple[list, float]:
    seen: list = []
    errors: list = []
    start = threading.Barrier(5)

    def client() -> None:
        wrapper = handler[alias]  # Django's connections are per thread: a client each
        try:
            start.wait()
            with wrapper.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_backend_pid(), current_database(), inet_server_port(), pg_sleep(0.3)"
                )
                seen.append(cursor.fetchone()[:3])
        except Exception as exc:  # reported below, with the thread's error
            errors.append(exc)
        finally:
            wrapper.close()

    began = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    return seen, time.monotonic() - began


@pytest.mark.parametrize(
    ("version", "refused_key"),
    [("1.21", "max_prepared_statements"), ("1.24", "reserve_pool_size")],
)
def test_pgbouncer_118_refuses_a_file_written_for_a_later_version(version, refused_key, server):
    answer = size(strategy="pgbouncer-transaction", pgbouncer_version=version)
    with pgbouncer(answer["files"]["pgbouncer.ini"], server) as (_, proc, log):
        assert proc.wait(10) != 0
        assert refused_key in log.read_text()
