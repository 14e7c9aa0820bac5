"""What the PgBouncer tests share: the suite's PostgreSQL prepared for PgBouncer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from django.conf import settings
from psycopg import sql

from lessons.services.pgbouncer import ManagedPgBouncer, find_binary, new_password
from lessons.services.pgbouncer_config import BouncerConfig, database_name
from lessons.services.postgres import ensure_demo_role
from lessons.services.processes import free_port

from .conftest import database_url
from .support import require

ROOT = Path(settings.BASE_DIR)
WORK = ROOT / ".lab" / "test" / "pgbouncer"
BOUNCER_ROLE = "pooling_lab_bouncer"
# PgBouncer may open MAX_SERVERS server connections (max_user_connections);
# PostgreSQL would let its role open ROLE_LIMIT: a cap that holds is PgBouncer's.
MAX_SERVERS = 4
ROLE_LIMIT = 10


@contextmanager
def bouncer_database() -> Iterator[dict]:
    """The test database (made by django_db_setup), with the role PgBouncer and its
    clients log in as; the role's own limit is put back after."""
    require(find_binary() is not None, "pgbouncer is not installed")
    db = settings.DATABASES["default"]
    dsn = database_url()
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT rolconnlimit FROM pg_roles WHERE rolname = %s", [BOUNCER_ROLE]
        ).fetchone()
    # Room above PgBouncer's cap, so that the cap measured is PgBouncer's own.
    password = settings.LAB.get("BOUNCER_PASSWORD") or "pooling-lab-bouncer"
    problem = ensure_demo_role(dsn, BOUNCER_ROLE, password, ROLE_LIMIT)
    assert problem is None, problem
    yield {
        "dsn": dsn,
        "host": db["HOST"],
        "port": int(db["PORT"]),
        "name": db["NAME"],
        "bouncer_password": password,
    }
    if row is not None:  # another module's lab may rely on the role's own limit
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER ROLE {} CONNECTION LIMIT {}").format(
                    sql.Identifier(BOUNCER_ROLE), sql.Literal(row[0])
                )
            )


def make_config(pg: dict, port: int) -> BouncerConfig:
    return BouncerConfig(
        listen_port=port,
        pg_host=pg["host"],
        pg_port=pg["port"],
        dbname=pg["name"],
        server_password=pg["bouncer_password"],
        admin_password=new_password(),
        max_server_connections=MAX_SERVERS,
    )


def connect(bouncer: ManagedPgBouncer, mode: str, size: int) -> psycopg.Connection:
    # prepare_threshold=None as Django sets it: no prepared statements through 1.18.
    return psycopg.connect(
        bouncer.conninfo(database_name(mode, size)), autocommit=True, prepare_threshold=None
    )


def backend_pid(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT pg_backend_pid()").fetchone()[0]


@contextmanager
def running_bouncer(pg, name: str):
    """A ManagedPgBouncer in front of the suite's PostgreSQL, in a work folder of its own."""
    managed = ManagedPgBouncer(make_config(pg, free_port()), WORK / name)
    managed.start()
    try:
        yield managed
    finally:
        managed.stop()
