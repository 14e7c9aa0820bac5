"""PgBouncer's pooling, proven with the real binary in front of the suite's PostgreSQL.

The module's PgBouncer may open at most MAX_SERVERS server connections
(max_user_connections), while PostgreSQL would let its role open ROLE_LIMIT: a
cap that holds is PgBouncer's own. Which server connections belong to it is read
from the kernel (its TCP sockets to PostgreSQL), not from PgBouncer itself.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import psutil
import psycopg
import pytest

from lessons.pgbouncer import AdminConsole, PgBouncerUnavailable
from lessons.services.pgbouncer import ManagedPgBouncer, binary_version
from lessons.services.pgbouncer_config import database_name
from lessons.services.processes import free_port, wait_for

from .pgbouncer_support import (
    BOUNCER_ROLE,
    MAX_SERVERS,
    backend_pid,
    bouncer_database,
    connect,
    running_bouncer,
)

# pytest-django makes the test database only for tests that declare it.
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def pg(django_db_setup):
    with bouncer_database() as database:
        yield database


@pytest.fixture(scope="module")
def bouncer(pg):
    with running_bouncer(pg, "module") as managed:
        yield managed


@pytest.fixture(scope="module")
def console(bouncer) -> AdminConsole:
    cfg = bouncer.config
    return AdminConsole(port=bouncer.port, user=cfg.admin_user, password=cfg.admin_password)


@pytest.fixture
def no_servers(bouncer, console, pg):
    """Start from no server connection: earlier tests' idle ones count against the cap."""
    console.reconnect()
    wait_for(lambda: not server_backends(bouncer, pg), timeout=10, what="idle servers closing")


def server_backends(bouncer: ManagedPgBouncer, pg: dict) -> dict[int, str]:
    """{backend pid: role} of the connections the pgbouncer process holds to PostgreSQL."""
    assert bouncer.alive()
    ports = [
        c.laddr.port
        for c in psutil.Process(bouncer.proc.pid).net_connections(kind="tcp")
        if c.raddr and c.raddr.port == pg["port"] and c.status == psutil.CONN_ESTABLISHED
    ]
    with psycopg.connect(pg["dsn"], autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid, usename FROM pg_stat_activity WHERE client_port = ANY(%s)", [ports]
        ).fetchall()
    return dict(rows)


def pool(console: AdminConsole, mode: str, size: int) -> dict:
    name = database_name(mode, size)
    return next((p for p in console.pools() if p["database"] == name), {})


def test_sixteen_clients_in_transaction_mode_share_two_backends(bouncer, console):
    """16 concurrent clients x 6 queries (96) through transaction pooling, pool size 2."""
    clients = 16
    everyone_connected = threading.Barrier(clients)

    def client() -> list[int]:
        with connect(bouncer, "transaction", 2) as conn:
            everyone_connected.wait(timeout=30)
            return [
                conn.execute("SELECT pg_backend_pid(), pg_sleep(0.005)").fetchone()[0]
                for _ in range(6)
            ]

    with ThreadPoolExecutor(clients) as pool_:
        results = [f.result() for f in [pool_.submit(client) for _ in range(clients)]]
    pids = {pid for result in results for pid in result}
    assert sum(map(len, results)) == 96
    # The pool size: PgBouncer never gives this database more server connections.
    assert 1 <= len(pids) <= 2
    servers = [s for s in console.servers() if s["database"] == database_name("transaction", 2)]
    assert {s["remote_pid"] for s in servers} == pids


def test_session_mode_keeps_a_backend_per_client(bouncer, no_servers):
    """Three clients take turns, five rounds: the same interleaving in both modes."""
    for mode, expected_backends in (("session", 3), ("transaction", 1)):
        conns = [connect(bouncer, mode, 3) for _ in range(3)]
        try:
            seen = [[backend_pid(conn) for conn in conns] for _ in range(5)]
        finally:
            for conn in conns:
                conn.close()
        per_client = [{row[i] for row in seen} for i in range(3)]
        if mode == "session":
            # Each client keeps the server it got for its whole session.
            assert all(len(pids) == 1 for pids in per_client)
        # Transaction mode hands the one idle server (LIFO) to whoever asks next.
        assert len(set().union(*per_client)) == expected_backends


def test_pgbouncer_logs_in_as_its_role_and_never_opens_more_than_its_cap(
    bouncer, console, pg, no_servers
):
    """Four session clients hold four servers; two clients of another database want
    two more. PostgreSQL would let the role open ROLE_LIMIT; PgBouncer opens MAX_SERVERS."""
    held = [connect(bouncer, "session", 8) for _ in range(MAX_SERVERS)]
    got = {backend_pid(conn) for conn in held}

    def other_database() -> int:
        with connect(bouncer, "transaction", 2) as conn:
            return backend_pid(conn)

    with ThreadPoolExecutor(2) as pool_:
        later = [pool_.submit(other_database) for _ in range(2)]
        wait_for(
            lambda: pool(console, "transaction", 2).get("cl_waiting") == 2,
            timeout=10,
            what="two clients waiting",
        )
        backends = server_backends(bouncer, pg)
        assert set(backends) == got  # none opened for the waiting clients
        assert set(backends.values()) == {BOUNCER_ROLE}
        for conn in held[:2]:
            # Their servers go idle: PgBouncer closes them to open the waiting pool's.
            conn.close()
        served = {f.result(timeout=10) for f in later}
        assert not served & got
        backends = server_backends(bouncer, pg)
    for conn in held[2:]:
        conn.close()
    assert len(backends) <= MAX_SERVERS
    assert set(backends.values()) == {BOUNCER_ROLE}


def test_snapshot_shows_who_holds_which_server(bouncer, console, no_servers):
    """Session mode, pool size 2, three clients: two hold a server, one waits."""
    holders = [connect(bouncer, "session", 2) for _ in range(2)]
    pids = {backend_pid(conn) for conn in holders}
    waiter = connect(bouncer, "session", 2)
    with ThreadPoolExecutor(1) as pool_:
        answer = pool_.submit(backend_pid, waiter)
        wait_for(lambda: pool(console, "session", 2).get("cl_waiting") == 1, timeout=10)
        snap = console.snapshot()
        holders[0].close()
        assert answer.result(timeout=10) in pids
    for conn in (holders[1], waiter):
        conn.close()
    name = database_name("session", 2)
    (row,) = [p for p in snap["pools"] if p["database"] == name]
    assert row["pool_mode"] == "session"
    assert (row["cl_active"], row["cl_waiting"], row["sv_active"]) == (2, 1, 2)
    assert row["maxwait_ms"] >= 0
    servers = {s["ptr"]: s["remote_pid"] for s in snap["servers"] if s["database"] == name}
    clients = [c for c in snap["clients"] if c["database"] == name]
    assert set(servers.values()) == pids
    # The two active clients are linked to the two servers; the waiting one to none.
    assert sorted(c["state"] for c in clients) == ["active", "active", "waiting"]
    assert {c["link"] for c in clients if c["state"] == "active"} == set(servers)
    assert all(c["addr"] == "127.0.0.1" and c["port"] > 0 for c in clients)
    assert all(p["database"] != "pgbouncer" for p in snap["pools"])


def test_options_startup_parameter_is_refused(bouncer):
    conninfo = bouncer.conninfo(database_name("transaction", 2))
    with pytest.raises(psycopg.OperationalError, match="unsupported startup parameter: options"):
        psycopg.connect(conninfo, options="-c statement_timeout=1000")


def test_admin_console_is_for_the_admin_user_only(bouncer, console):
    with pytest.raises(psycopg.OperationalError, match="not allowed"):
        psycopg.connect(bouncer.conninfo("pgbouncer"))
    assert console.version() == binary_version(bouncer.binary) == bouncer.version


def test_kill_drops_the_database_connections_and_resumes_it(bouncer, console):
    victim = connect(bouncer, "session", 1)
    backend_pid(victim)
    console.kill_database(database_name("session", 1))
    # KILL ends the client's connection at once, its server connection too.
    with pytest.raises(psycopg.OperationalError, match="database removed"):
        backend_pid(victim)
    victim.close()
    # Resumed: a new client is served at once (KILL alone would keep it waiting).
    with connect(bouncer, "session", 1) as conn:
        assert backend_pid(conn) > 0
    with pytest.raises(ValueError):
        console.kill_database("postgres")


def test_a_dead_console_raises_one_clear_error():
    with pytest.raises(PgBouncerUnavailable, match="did not answer"):
        AdminConsole(port=free_port(), password="x").snapshot()
