"""Lessons 8 and 9 on the real servers: the ASGI pile-up, and failures a learner causes.

The test lab's ASGI demo server is uvicorn with 1 worker; its connections log in as the
role pooling_lab_asgi, whose CONNECTION LIMIT is its slice of the budget (12 of 50).
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from lessons import lab as lab_config

from .support import Http, pids, require


def role_backends(lab, role: str) -> int:
    dsn = lab.database_url.replace("postgres://", "postgresql://", 1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = %s", [role]
        ).fetchone()[0]


def await_value(read, wanted, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while (value := read()) != wanted and time.monotonic() < deadline:
        time.sleep(0.2)
    return value


class PageTimer(threading.Thread):
    """Loads lesson pages while something else runs; keeps the slowest answer."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.client, self.stop, self.slowest, self.statuses = (
            Http(base),
            threading.Event(),
            0.0,
            set(),
        )

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            status, _, _ = self.client.request("GET", "/lessons/asgi/")
            self.slowest = max(self.slowest, time.monotonic() - started)
            self.statuses.add(status)
            self.stop.wait(0.1)


def test_persistent_connections_pile_up_under_asgi_until_their_roles_limit(site, learner, lab):
    limit = lab_config.budget_slices(lab.budget)["asgi"]
    pages = PageTimer(lab.url)
    pages.start()
    try:
        run = site.run(
            "persistent", {"conn_max_age": 600}, requests=120, concurrency=8, server="asgi",
            fresh=True,
        )  # fmt: skip
        # Meanwhile another learner's WSGI demo works: the pile-up has its own role.
        other = learner.run("no-pool", requests=10)
    finally:
        pages.stop.set()
        pages.join()
    summary = run["summary"]
    # Every request ran in a thread context of its own and kept its new connection: far
    # more connections than requests in flight, until the ASGI role's limit refused more.
    assert summary["distinct_backend_pids"] > 8
    assert summary["peak_server_connections"] <= limit
    assert summary["errors_by_kind"].get("role-limit", 0) > 0
    assert other["summary"]["ok"] == 10
    assert pages.statuses == {200} and pages.slowest < 2
    # When the run ends, the lab closes the pile-up: the budget is not left held.
    assert await_value(lambda: role_backends(lab, "pooling_lab_asgi"), 0) == 0


def test_the_native_pool_holds_steady_under_the_same_asgi_load(site):
    params = {"min_size": 2, "max_size": 4, "timeout": 5}
    run = site.run("native-pool", params, requests=120, concurrency=8, server="asgi", fresh=True)
    # One uvicorn worker, one pool of 4: never more, and nobody waited past the timeout.
    assert run["summary"]["errors"] == 0
    assert run["summary"]["distinct_backend_pids"] <= 4
    assert run["summary"]["peak_server_connections"] <= 4


def test_a_pool_sized_to_queries_in_flight_times_out_under_asgi(site):
    # Each request queries, then works 300 ms more while Django still holds its pooled
    # connection (it goes back at request_finished): 6 requests want 6 connections.
    params = {"min_size": 2, "max_size": 2, "timeout": 0.5}
    run = site.run(
        "native-pool", params, requests=24, concurrency=6, work_ms=300, server="asgi", fresh=True
    )
    assert run["summary"]["errors_by_kind"].get("pool-timeout", 0) >= 4
    assert run["summary"]["distinct_backend_pids"] <= 2


def warm_then_kill(site, strategy: str, params: dict) -> set[int]:
    warm = site.run(strategy, params, requests=48, concurrency=8, hold_ms=20)
    status, body = site.post_json("/api/connections/terminate", {"strategy": strategy})
    assert status == 200 and set(body["terminated"]) == set(pids(warm)) != set()
    return set(pids(warm))


def test_the_native_pools_check_replaces_killed_connections_without_a_failure(site):
    # Two dead connections per pool at most: psycopg_pool checks the next one at once,
    # and after a second dead one pauses about 1 s, well inside the 10 s timeout.
    checked = {"min_size": 2, "max_size": 2, "timeout": 10, "health_checks": True}
    killed = warm_then_kill(site, "native-pool", checked)
    after = site.run("native-pool", checked, requests=32, concurrency=8)
    assert after["summary"]["errors"] == 0
    assert not set(pids(after)) & killed


def test_without_the_check_the_pool_hands_out_dead_connections(learner):
    unchecked = {"min_size": 2, "max_size": 2, "timeout": 10, "health_checks": False}
    killed = warm_then_kill(learner, "native-pool", unchecked)
    after = learner.run("native-pool", unchecked, requests=32, concurrency=8)
    failed = [r for r in after["results"] if not r["ok"]]
    # One failure at most per dead connection; the pool then drops it and opens another.
    assert 1 <= len(failed) <= len(killed)
    assert {r["error"]["kind"] for r in failed} == {"connection-lost"}


def await_done(client: Http, action: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, body, _ = client.request("GET", f"/demos/lab/{action}/status/")
        html = body.decode()
        if 'data-under-way="false"' in html:
            return html
        time.sleep(0.3)
    raise AssertionError(f"{action} did not finish")


def test_restarting_postgresql_keeps_progress_and_runs_and_health_checks_recover(site, lab):
    if not lab_config.config()["EMBEDDED_PG"]:
        status, body = site.post_json("/api/lab/restart-postgres", {})
        assert status == 409 and "DATABASE_URL" in body["error"]
        return
    site.request("POST", "/lessons/asgi/complete/", form={"done": "true"})
    checked = {"conn_max_age": 600, "health_checks": True}
    unchecked = {"conn_max_age": 600, "health_checks": False}
    before = site.run("persistent", checked, requests=48, concurrency=8, hold_ms=20)
    site.run("persistent", unchecked, requests=48, concurrency=8, hold_ms=20)
    status, body = site.post_json("/api/lab/restart-postgres", {})
    assert status == 202, body
    # Once a minute at most, and never two at once.
    again, refused = site.post_json("/api/lab/restart-postgres", {})
    assert again in (409, 429), refused
    html = await_done(site, "restart-postgres")
    assert "PostgreSQL was restarted" in html
    # Saved runs and progress live in PostgreSQL's data folder: all still there.
    status, kept = site.get_json(before["url"])
    assert status == 200 and kept["summary"] == before["summary"]
    assert 'class="toc-item is-done"' in site.text("/")
    # Kept connections all died: with health checks none fails, without, some do.
    after = site.run("persistent", checked, requests=32, concurrency=8)
    assert after["summary"]["errors"] == 0
    assert not set(pids(after)) & set(pids(before))
    stale = site.run("persistent", unchecked, requests=32, concurrency=8)
    kinds = {r["error"]["kind"] for r in stale["results"] if not r["ok"]}
    assert kinds == {"connection-lost"}
    status, body = site.post_json("/api/lab/restart-postgres", {})
    assert status == 429 and body["field"] == "action"


def test_stopping_pgbouncer_fails_requests_until_the_lab_brings_it_back(site, lab):
    require(lab.bouncer is not None, "PgBouncer is not installed")
    params = {"pool_size": 2}
    assert (
        site.run("pgbouncer-transaction", params, requests=8, concurrency=4)["summary"]["ok"] == 8
    )
    status, _ = site.post_json("/api/lab/stop-pgbouncer", {})
    assert status == 202
    await_done(site, "stop-pgbouncer")
    down = site.run("pgbouncer-transaction", params, requests=8, concurrency=4)
    # Every request fails, and says why: nothing accepts connections on PgBouncer's port.
    # A connection PgBouncer had already accepted as it went (a rare race with the stop)
    # is told as lost.
    assert all(not r["ok"] for r in down["results"])
    errors = {(r["error"]["kind"], r["error"]["message"]) for r in down["results"]}
    kinds = {kind for kind, _ in errors}
    assert "database-down" in kinds and kinds <= {"database-down", "connection-lost"}, errors
    panel = site.request("GET", "/demos/pgbouncer/", headers={"HX-Request": "true"})[1].decode()
    assert "PgBouncer is down" in panel
    # The rest of the site keeps working meanwhile.
    assert site.run("no-pool", requests=4)["summary"]["ok"] == 4
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        back = site.run("pgbouncer-transaction", params, requests=8, concurrency=4)
        if back["summary"]["ok"] == 8:
            break
        time.sleep(1)
    assert back["summary"]["ok"] == 8


@pytest.mark.parametrize("action", ["restart-postgres", "stop-pgbouncer"])
def test_unknown_and_wrong_method_fault_requests_are_clear(site, action):
    assert site.get_json(f"/api/lab/{action}")[0] == 405
    status, _, _ = site.request("POST", "/demos/lab/format-disk/", form={})
    assert status == 404
