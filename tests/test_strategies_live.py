"""What each strategy does on the real lab server: gunicorn gthread, 2 workers x 4 threads.

These are the behaviours the lessons promise, proven against real processes;
the test's lab has W x T = 8 worker threads.
"""

from __future__ import annotations

import time

import psycopg
import pytest

from .support import pids

WORKER_THREADS = 2 * 4


def demo_backends(lab, strategy: str) -> set[int]:
    dsn = lab.database_url.replace("postgres://", "postgresql://", 1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
            [f"pooling-lab:{strategy}"],
        ).fetchall()
    return {pid for (pid,) in rows}


def test_no_pool_gives_every_request_a_new_backend(site, lab):
    run = site.run("no-pool", requests=10)
    summary = run["summary"]
    assert summary["ok"] == 10
    # CONN_MAX_AGE = 0: each request connects, and closes at request_finished.
    assert summary["distinct_backend_pids"] == 10
    assert summary["new_backends"] == 10
    assert all(r["connect_ms"] > 0.5 for r in run["results"])
    # Closed at the end of each request: none of them is still open.
    assert not demo_backends(lab, "no-pool") & set(pids(run))


def test_persistent_reuses_at_most_workers_x_threads_backends(site):
    # An age no other test uses: this alias's connections are this test's alone.
    run = site.run("persistent", {"conn_max_age": 599}, requests=40, concurrency=8)
    summary = run["summary"]
    assert summary["ok"] == 40
    # One connection per worker thread at most.
    assert summary["distinct_backend_pids"] <= WORKER_THREADS
    assert summary["distinct_backend_pids"] < 40
    again = site.run("persistent", {"conn_max_age": 599}, requests=10, concurrency=1)
    # A second run reuses the connections its threads hold; only a thread the first
    # run never reached can open one.
    reused = [r for r in again["results"] if not r["new_backend"]]
    assert {r["backend_pid"] for r in reused} <= set(pids(run))
    assert again["summary"]["new_backends"] <= WORKER_THREADS - summary["distinct_backend_pids"]


def test_persistent_opens_new_backends_once_the_age_has_run_out(site):
    first = site.run("persistent", {"conn_max_age": 1}, requests=16, concurrency=8)
    time.sleep(1.5)
    second = site.run("persistent", {"conn_max_age": 1}, requests=16, concurrency=8)
    # Every connection of the first run is older than CONN_MAX_AGE=1 by now, so
    # request_started closes it and the thread connects anew.
    assert not set(pids(first)) & set(pids(second))
    assert second["summary"]["ok"] == 16


def test_native_pool_never_exceeds_workers_x_max_size(site, lab):
    wait_until_no_backends(lab, "native-pool")
    params = {"min_size": 1, "max_size": 2, "timeout": 10}
    run = site.run("native-pool", params, requests=40, concurrency=8, hold_ms=20)
    summary = run["summary"]
    assert summary["ok"] == 40
    # One pool per worker process: 2 workers x max_size 2.
    assert summary["distinct_backend_pids"] <= 2 * 2
    assert summary["peak_server_connections"] <= 2 * 2
    stats = next(iter(summary["pools"].values()))
    assert stats["kind"] == "psycopg_pool" and stats["pool_max"] == 2


def test_native_pool_timeout_is_a_lesson_result_not_a_crash(site):
    # 8 threads want a connection, 2 x 1 exist, each is held 600 ms, and the pool
    # gives up after 0.2 s: most requests wait, then time out.
    params = {"min_size": 1, "max_size": 1, "timeout": 0.2}
    run = site.run("native-pool", params, requests=16, concurrency=8, hold_ms=600)
    summary = run["summary"]
    assert summary["errors_by_kind"].get("pool-timeout", 0) >= 4
    assert summary["ok"] >= 2
    timeouts = [r for r in run["results"] if not r["ok"]]
    assert all(r["http_status"] == 503 for r in timeouts)
    assert all(
        "couldn't get a connection after 0.20 sec" in r["error"]["message"] for r in timeouts
    )
    # They waited the pool's timeout before giving up.
    assert all(r["waited_ms"] >= 190 for r in timeouts)


def test_native_pool_with_conn_max_age_shows_djangos_own_error(demo):
    status, body = demo.get_json("/probe/native-pool/?conn_max_age=60")
    assert status == 409
    assert body["error"]["kind"] == "improperly-configured"
    assert body["error"]["message"] == "Pooling doesn't support persistent connections."


def wait_until_no_backends(lab, strategy: str, timeout: float = 20) -> None:
    """Other tests' aliases of this strategy close after 5 idle seconds; wait for that."""
    deadline = time.monotonic() + timeout
    while demo_backends(lab, strategy) and time.monotonic() < deadline:
        time.sleep(0.25)
    assert not demo_backends(lab, strategy)


def test_dbcp_stays_within_pool_size_plus_overflow(site, lab):
    wait_until_no_backends(lab, "dbcp")
    params = {"pool_size": 2, "max_overflow": 1, "timeout": 10}
    run = site.run("dbcp", params, requests=30, concurrency=8, hold_ms=50)
    assert run["summary"]["ok"] == 30
    # POOL_SIZE + MAX_OVERFLOW per worker, 2 workers. Overflow connections are
    # closed on return, so new PIDs can appear, but never more at once.
    assert run["summary"]["peak_server_connections"] <= 2 * (2 + 1)
    stats = next(iter(run["summary"]["pools"].values()))
    assert stats["kind"] == "QueuePool" and stats["size"] == 2


def test_dbcp_overflow_error_is_a_lesson_result(site):
    params = {"pool_size": 1, "max_overflow": 0, "timeout": 0.2}
    run = site.run("dbcp", params, requests=16, concurrency=8, hold_ms=600)
    errors = [r for r in run["results"] if not r["ok"]]
    assert len(errors) >= 4
    assert all(r["error"]["kind"] == "queuepool-overflow" for r in errors)
    assert "QueuePool limit of size 1 overflow 0 reached" in errors[0]["error"]["message"]


def test_idle_aliases_are_closed_and_return_every_connection(site, lab):
    for strategy, params in [
        ("persistent", {"conn_max_age": "none"}),
        ("native-pool", {"min_size": 2, "max_size": 3}),
        ("dbcp", {"pool_size": 2, "max_overflow": 1}),
    ]:
        site.run(strategy, params, requests=12, concurrency=4)
    # The test lab closes aliases idle for 5 s; then nothing of theirs is left.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        left = {s: demo_backends(lab, s) for s in ("persistent", "native-pool", "dbcp")}
        if not any(left.values()):
            break
        time.sleep(0.5)
    assert not any(left.values()), left


def test_demo_role_enforces_the_budget_inside_postgresql(lab):
    dsn = lab.database_url.replace("postgres://", "postgresql://", 1)
    with psycopg.connect(dsn) as conn:
        limit = conn.execute(
            "SELECT rolconnlimit FROM pg_roles WHERE rolname = %s", ["pooling_lab_demo"]
        ).fetchone()[0]
    assert limit == lab.budget


def test_connections_api_shows_what_postgresql_sees(site, lab):
    run = site.run("persistent", {"conn_max_age": 598}, requests=8, concurrency=4)
    status, body = site.get_json("/api/connections")
    assert status == 200
    shown = {row["pid"] for row in body["rows"] if row["strategy"] == "persistent"}
    # The run's connections stay open (age 598 s): the API and PostgreSQL both list them.
    assert set(pids(run)) <= shown
    assert set(pids(run)) <= demo_backends(lab, "persistent")
    assert body["max_connections"] >= 20


def test_native_pool_queues_requests_while_every_connection_is_busy(site):
    # One connection per worker, held 200 ms, eight requests in flight: most wait
    # for a connection, but a 5 s timeout is long enough for all of them.
    params = {"min_size": 1, "max_size": 1, "timeout": 5}
    run = site.run("native-pool", params, requests=16, concurrency=8, hold_ms=200)
    assert run["summary"]["ok"] == 16
    waited = [r for r in run["results"] if r["connect_ms"] >= 150]
    assert len(waited) >= 8
    stats = list(run["summary"]["pools"].values())
    assert sum(s.get("requests_queued", 0) for s in stats) >= 4


@pytest.fixture
def after_kill_wait():
    yield
    # A kill leaves dead connections in every persistent alias of the demo server;
    # the test lab closes aliases idle for 5 s, so later tests start clean.
    time.sleep(6)


def kill(site, strategy: str) -> list[int]:
    status, body = site.post_json("/api/connections/terminate", {"strategy": strategy})
    assert status == 200, body
    return body["terminated"]


def test_a_killed_backend_fails_requests_without_health_checks(site, after_kill_wait):
    params = {"conn_max_age": 597, "health_checks": False}
    warm = site.run("persistent", params, requests=16, concurrency=8)
    assert set(pids(warm)) <= set(kill(site, "persistent"))
    after = site.run("persistent", params, requests=16, concurrency=8)
    # A thread whose kept connection was killed fails its next request (Django then
    # closes the unusable connection, and that thread's following request reconnects).
    failed = [r for r in after["results"] if not r["ok"]]
    assert failed
    assert all(r["error"]["kind"] == "connection-lost" for r in failed), [
        r["error"] for r in failed
    ]
    assert len(failed) <= 8  # at most one per thread
    assert not {r["backend_pid"] for r in after["results"] if r["ok"]} & set(pids(warm))


def test_health_checks_replace_a_killed_backend_without_a_failed_request(site, after_kill_wait):
    params = {"conn_max_age": 596, "health_checks": True}
    warm = site.run("persistent", params, requests=16, concurrency=8)
    assert set(pids(warm)) <= set(kill(site, "persistent"))
    after = site.run("persistent", params, requests=16, concurrency=8)
    assert after["summary"]["errors"] == 0
    # Every killed connection was found dead by the health check and replaced.
    assert not set(pids(after)) & set(pids(warm))
    assert after["summary"]["new_backends"] >= 1


def test_terminate_needs_a_known_strategy(site):
    status, body = site.post_json("/api/connections/terminate", {"strategy": "nope"})
    assert status == 404 and body["field"] == "strategy"
    status, body = site.post_json("/api/connections/terminate", {})
    assert status == 400 and body["field"] == "strategy"


def test_terminate_never_touches_the_sites_own_connections(site, lab, after_kill_wait):
    site.run("persistent", {"conn_max_age": 595}, requests=8, concurrency=4)
    site_pids = demo_backends(lab, "site")  # application_name pooling-lab:site
    assert site_pids
    kill(site, "persistent")
    assert site_pids <= demo_backends(lab, "site")
