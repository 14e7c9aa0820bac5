"""Every error kind a demo can show, classified from a real exception chain.

Each failure is caused for real against PostgreSQL (or the pool library) and the
exception Django or the pool raised is classified, exactly as a probe does.
"""

from __future__ import annotations

import psycopg
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from psycopg import sql

from lessons import errors
from lessons.services import postgres
from lessons.services.processes import free_port

# The suite's PostgreSQL (embedded, or DATABASE_URL's) and its test database.
pytestmark = pytest.mark.usefixtures("django_db_setup")


def caught(action) -> BaseException:
    try:
        action()
    except BaseException as exc:
        return exc
    raise AssertionError("nothing was raised")


def dsn(**overrides) -> str:
    db = connections["default"].settings_dict
    parts = {
        "host": db["HOST"],
        "port": db["PORT"],
        "dbname": db["NAME"],
        "user": db["USER"],
        "password": db["PASSWORD"],
    } | overrides
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in parts.items() if v})


@pytest.fixture
def admin(django_db_blocker):
    with django_db_blocker.unblock(), psycopg.connect(dsn(), autocommit=True) as conn:
        yield conn


def test_a_role_at_its_connection_limit_is_role_limit(admin):
    admin.execute("DROP ROLE IF EXISTS pooling_lab_full")
    admin.execute("CREATE ROLE pooling_lab_full LOGIN CONNECTION LIMIT 0")
    try:
        exc = caught(lambda: psycopg.connect(dsn(user="pooling_lab_full", password="")))
    finally:
        admin.execute("DROP ROLE pooling_lab_full")
    assert "too many connections for role" in str(exc)
    assert errors.classify(exc).kind == "role-limit"


def test_a_full_server_is_too_many_clients(tmp_path):
    # A server of its own with 3 slots, 2 of them for superusers: the second ordinary
    # connection finds none left.
    server = postgres.EmbeddedPostgres(
        tmp_path / "pg",
        free_port(),
        settings={"max_connections": "3", "superuser_reserved_connections": "2"},
    )
    server.start()
    try:
        with psycopg.connect(postgres.conninfo(server.port), autocommit=True) as conn:
            conn.execute("CREATE ROLE plain LOGIN")
        info = postgres.conninfo(server.port, user="plain")
        with psycopg.connect(info):
            exc = caught(lambda: psycopg.connect(info))
    finally:
        server.stop()
    assert errors.classify(exc).kind == "too-many-clients", exc


def test_a_terminated_backend_is_connection_lost(admin):
    with psycopg.connect(dsn(), autocommit=True) as victim:
        pid = victim.info.backend_pid
        admin.execute("SELECT pg_terminate_backend(%s, 2000)", [pid])
        exc = caught(lambda: victim.execute("SELECT 1"))
    assert errors.classify(exc).kind == "connection-lost", exc


def test_no_server_listening_is_database_down():
    exc = caught(lambda: psycopg.connect(dsn(port=free_port(), connect_timeout=2)))
    assert errors.classify(exc).kind == "database-down", exc


def test_an_exhausted_native_pool_is_pool_timeout_through_djangos_wrapper(django_db_blocker):
    from psycopg_pool import ConnectionPool

    with django_db_blocker.unblock():
        pool = ConnectionPool(dsn(), min_size=1, max_size=1, timeout=0.1, open=True)
        try:
            held = pool.getconn()
            wrapper = connections["default"]
            # Django wraps the pool's PoolTimeout in its own OperationalError.
            exc = caught(lambda: _wrapped(wrapper, pool.getconn))
            pool.putconn(held)
        finally:
            pool.close()
    assert type(exc).__module__ == "django.db.utils" and "couldn't get a connection" in str(exc)
    assert errors.classify(exc).kind == "pool-timeout"


def _wrapped(wrapper, action) -> None:
    with wrapper.wrap_database_errors:
        action()


def test_an_exhausted_queuepool_is_queuepool_overflow(django_db_blocker):
    from sqlalchemy.pool import QueuePool

    with django_db_blocker.unblock():
        pool = QueuePool(lambda: psycopg.connect(dsn()), pool_size=1, max_overflow=0, timeout=0.1)
        held = pool.connect()
        exc = caught(pool.connect)
        held.close()
        pool.dispose()
    assert errors.classify(exc).kind == "queuepool-overflow", exc


def test_a_pool_with_conn_max_age_is_improperly_configured():
    from django.db.backends.postgresql.base import DatabaseWrapper

    settings = {**connections["default"].settings_dict, "CONN_MAX_AGE": 60}
    settings["OPTIONS"] = {"pool": True}
    exc = caught(lambda: DatabaseWrapper(settings, alias="lab_bad_pool").pool)
    assert isinstance(exc, ImproperlyConfigured)
    assert errors.classify(exc).kind == "improperly-configured"


def test_any_other_database_error_is_database_error(admin):
    exc = caught(lambda: admin.execute(sql.SQL("SELECT 1 / 0")))
    assert errors.classify(exc).kind == "database-error"
