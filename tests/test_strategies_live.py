"""What each strategy does on the real lab server: gunicorn gthread, 2 workers x 4 threads.

These are the behaviours the lessons promise, proven against real processes;
the test's lab has W x T = 8 worker threads.
"""

from __future__ import annotations

import json
import time
import urllib.request

import psycopg

from .support import pids

WORKER_THREADS = 2 * 4


def demo_backends(lab, strategy: str) -> set[int]:
    """Backends of a strategy, every learner's (pooling-lab:<slug> or pooling-lab:<slug>:*)."""
    dsn = lab.database_url.replace("postgres://", "postgresql://", 1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE application_name = %s OR application_name LIKE %s",
            [f"pooling-lab:{strategy}", f"pooling-lab:{strategy}:%"],
        ).fetchall()
    return {pid for (pid,) in rows}


def test_no_pool_gives_every_request_a_new_backend(site, lab):
    run = site.run("no-pool", requests=10)
    summary = run["summary"]
    assert summary["ok"] == 10
    # CONN_MAX_AGE = 0: each request connects, and closes at request_finished.
    assert summary["distinct_backend_pids"] == 10
    assert summary["new_backends"] == 10
    # The request opened its connection itself: connect time, no wait for a pool.
    assert all(r["connect_ms"] > 0.5 and r["wait_ms"] == 0 for r in run["results"])
    # One at a time, each closed before the next opened: never two open at once.
    assert summary["peak_server_connections"] == 1
    # Closed at the end of each request: none of them is still open.
    assert not demo_backends(lab, "no-pool") & set(pids(run))


def test_no_pool_at_concurrency_eight_holds_at_most_eight_at_once(site):
    run = site.run("no-pool", requests=24, concurrency=8, hold_ms=100)
    # Eight requests in flight, each with its own connection for 100 ms.
    assert 2 <= run["summary"]["peak_server_connections"] <= 8
    assert run["summary"]["distinct_backend_pids"] == 24


def test_persistent_reuses_at_most_workers_x_threads_backends(site):
    # An age no other test uses: this alias's connections are this test's alone.
    run = site.run("persistent", {"conn_max_age": 599}, requests=40, concurrency=8)
    summary = run["summary"]
    assert summary["ok"] == 40
    # One connection per worker thread at most.
    assert summary["distinct_backend_pids"] <= WORKER_THREADS
    assert summary["distinct_backend_pids"] < 40
    again = site.run("persistent", {"conn_max_age": 599}, requests=10, concurrency=1)
    # A second run reuses the connections its threads hold; only a thread the first run
    # never reached opens one (and its later requests reuse that one).
    opened = {r["backend_pid"] for r in again["results"] if r["new_backend"]}
    reused = {r["backend_pid"] for r in again["results"] if not r["new_backend"]}
    assert reused & set(pids(run))
    assert reused <= set(pids(run)) | opened
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
    assert all(r["wait_ms"] >= 190 for r in timeouts)


def test_native_pool_with_conn_max_age_shows_djangos_own_error(demo):
    status, body = demo.get_json("/probe/native-pool/?conn_max_age=60")
    assert status == 409
    assert body["error"]["kind"] == "improperly-configured"
    assert body["error"]["message"] == "Pooling doesn't support persistent connections."


def test_dbcp_stays_within_pool_size_plus_overflow(site, lab):
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
    # The test lab closes aliases idle for 5 s; then nothing of theirs is left (other
    # tests' connections of these strategies close the same way).
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        left = {s: demo_backends(lab, s) for s in ("persistent", "native-pool", "dbcp")}
        if not any(left.values()):
            break
        time.sleep(0.5)
    assert not any(left.values()), left


def test_demo_roles_enforce_their_slices_of_the_budget_inside_postgresql(lab):
    from lessons import lab as lab_config

    dsn = lab.database_url.replace("postgres://", "postgresql://", 1)
    with psycopg.connect(dsn) as conn:
        limits = dict(
            conn.execute(
                "SELECT rolname, rolconnlimit FROM pg_roles WHERE rolname LIKE 'pooling_lab_%'"
            ).fetchall()
        )
    slices = lab_config.budget_slices(lab.budget)
    assert limits["pooling_lab_demo"] == slices["wsgi"]
    assert limits["pooling_lab_asgi"] == slices["asgi"]
    assert limits["pooling_lab_bouncer"] == slices["pgbouncer"]
    assert sum(slices.values()) == lab.budget


def test_connections_api_shows_what_postgresql_sees_mine_or_everyones(site, learner, lab):
    run = site.run("persistent", {"conn_max_age": 598}, requests=8, concurrency=4)
    mine = await_rows(site, "mine", set(pids(run)))
    # The run's connections stay open (age 598 s): the API and PostgreSQL both list them.
    assert set(pids(run)) <= {row["pid"] for row in mine["rows"]}
    assert {row["owner"] for row in mine["rows"]} == {mine["rows"][0]["owner"]}
    everyone = await_rows(learner, "all", set(pids(run)))
    assert set(pids(run)) <= {row["pid"] for row in everyone["rows"]}
    # Another learner's "mine" does not show them.
    _, theirs = learner.get_json("/api/connections?scope=mine")
    assert not set(pids(run)) & {row["pid"] for row in theirs["rows"]}
    assert mine["max_connections"] >= 20


def await_rows(client, scope: str, wanted: set[int], timeout: float = 5) -> dict:
    """The monitor samples once a second: wait for a sample taken after the run."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = client.get_json(f"/api/connections?scope={scope}")
        assert status == 200, body
        if wanted <= {row["pid"] for row in body["rows"]} or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def test_native_pool_queues_requests_while_every_connection_is_busy(site):
    # One connection per worker, held 200 ms, eight requests in flight: most wait
    # for a connection, but a 5 s timeout is long enough for all of them.
    params = {"min_size": 1, "max_size": 1, "timeout": 5}
    run = site.run("native-pool", params, requests=16, concurrency=8, hold_ms=200)
    assert run["summary"]["ok"] == 16
    # The wait for the pool is wait_ms; the request never opens a connection itself.
    waited = [r for r in run["results"] if r["wait_ms"] >= 150]
    assert len(waited) >= 8
    assert all(r["connect_ms"] == 0 for r in run["results"])
    stats = list(run["summary"]["pools"].values())
    assert sum(s.get("requests_queued", 0) for s in stats) >= 4


def kill(site, strategy: str) -> list[int]:
    status, body = site.post_json("/api/connections/terminate", {"strategy": strategy})
    assert status == 200, body
    return body["terminated"]


def warm_every_thread(site, params: dict) -> dict:
    """Warm up until every one of the 8 demo threads holds a connection (the precondition
    of the kill tests: then any later request meets a killed connection)."""
    for _ in range(5):
        warm = site.run("persistent", params, requests=48, concurrency=8, hold_ms=20)
        if warm["summary"]["distinct_backend_pids"] == WORKER_THREADS:
            return warm
    raise AssertionError("the demo server's 8 threads were not all reached")


def test_a_killed_backend_fails_requests_without_health_checks(site):
    params = {"conn_max_age": 597, "health_checks": False}
    warm = warm_every_thread(site, params)
    assert set(kill(site, "persistent")) == set(pids(warm))
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


def test_health_checks_replace_a_killed_backend_without_a_failed_request(site):
    params = {"conn_max_age": 596, "health_checks": True}
    warm = warm_every_thread(site, params)
    assert set(kill(site, "persistent")) == set(pids(warm))
    after = site.run("persistent", params, requests=16, concurrency=8)
    assert after["summary"]["errors"] == 0
    # Every killed connection was found dead by the health check and replaced.
    assert not set(pids(after)) & set(pids(warm))
    assert after["summary"]["new_backends"] >= 1
    # The replacement is opened inside the request that found the dead one: its reconnect
    # shows as connect time, after the check's failed round trip.
    replaced = [r for r in after["results"] if r["new_backend"]]
    assert all(r["connect_ms"] > 0.5 and r["check_ms"] > 0 for r in replaced)


def test_terminate_needs_a_known_strategy(site):
    status, body = site.post_json("/api/connections/terminate", {"strategy": "nope"})
    assert status == 404 and body["field"] == "strategy"
    status, body = site.post_json("/api/connections/terminate", {})
    assert status == 400 and body["field"] == "strategy"


def test_terminate_never_touches_the_sites_or_another_learners_connections(site, learner, lab):
    theirs = learner.run("persistent", {"conn_max_age": 595}, requests=8, concurrency=4)
    site.run("persistent", {"conn_max_age": 595}, requests=8, concurrency=4)
    site_pids = demo_backends(lab, "site")  # application_name pooling-lab:site
    assert site_pids
    killed = kill(site, "persistent")
    assert killed and not set(killed) & set(pids(theirs))
    assert site_pids <= demo_backends(lab, "site")
    assert (
        learner.run("persistent", {"conn_max_age": 595}, requests=8, concurrency=4)["summary"][
            "errors"
        ]
        == 0
    )


def test_a_refused_configuration_has_no_pool_statistics_rather_than_an_error(demo):
    # Each new connection goes to either worker: after a few tries both have a wrapper
    # for the refused configuration, and its statistics must still answer.
    for _ in range(12):
        status, body = demo.get_json("/probe/native-pool/?conn_max_age=60")
        assert status == 409 and body["error"]["kind"] == "improperly-configured"
        status, body = demo.get_json("/probe/native-pool/stats?conn_max_age=60")
        assert status == 200, body
        assert body["pool"] is None


def test_each_worker_asks_until_the_workers_it_wants_have_answered(lab):
    from lessons.loadgen import each_worker

    url = lab.demo_url + "/healthz"
    both = {answer["worker_pid"] for answer in each_worker(url, 2)}
    assert len(both) == 2
    # The run's stats must come from the worker that served it, whichever answers first.
    for pid in both:
        for _ in range(3):
            assert pid in {answer["worker_pid"] for answer in each_worker(url, 1, wanted={pid})}


def test_a_probe_answer_is_sent_whole_with_its_length(lab):
    """Not chunked: gunicorn needs one send fewer on the socket for every probe."""
    url = f"{lab.demo_url}/probe/native-pool/"
    with urllib.request.urlopen(url, timeout=10) as response:
        body = response.read()
        assert response.headers["Transfer-Encoding"] is None
        assert int(response.headers["Content-Length"]) == len(body)
    assert json.loads(body)["backend_pid"] > 0
