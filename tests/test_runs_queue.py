"""The run queue on the real lab: a lab per learner, fair turns, cancel, and nothing stuck.

The test lab runs 3 run workers (django-tasks-db's db_worker) and at most 3 runs at once,
one slot kept for short runs; a run is "long" from 5 s of hold time.
"""

from __future__ import annotations

import itertools
import threading
import time
from datetime import datetime

import psycopg
import pytest
from django.db import connections

from .support import Http, pids

LONG = {"requests": 12, "concurrency": 1, "hold_ms": 600}  # 7.2 s of hold: a long run


def wait_status(client: Http, url: str, wanted: set[str], timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, run = client.get_json(url)
        assert status == 200, run
        if run["status"] in wanted:
            return run
        time.sleep(0.1)
    raise AssertionError(f"{url} never reached {wanted}: {run['status']}")


def test_two_learners_each_see_only_their_own_runs(site, learner):
    mine = site.run("no-pool", requests=2)
    theirs = learner.run("no-pool", requests=2)
    _, listed = site.get_json("/api/runs")
    assert [r["id"] for r in listed] == [mine["id"]]
    # Someone else's run is not found, to read or to cancel.
    assert learner.get_json(f"/api/runs/{mine['id']}")[0] == 404
    assert learner.post_json(f"/api/runs/{mine['id']}/cancel", {})[0] == 404
    assert site.get_json(f"/api/runs/{theirs['id']}")[0] == 404
    # Without a session there is nobody to own runs: an empty list, no session made.
    status, body, headers = Http(site.base).request("GET", "/api/runs")
    assert (status, body) == (200, b"[]") and "sessionid" not in headers.get("Set-Cookie", "")


def test_two_learners_pressing_the_same_fresh_demo_see_the_same_figures(site, learner):
    figures = []
    for client in (site, learner, site):
        run = client.run("no-pool", requests=10, fresh=True)
        s = run["summary"]
        figures.append(
            (s["distinct_backend_pids"], s["new_backends"], s["peak_server_connections"])
        )
    # Ten requests, each its own backend, one open at a time: for everyone, every time.
    assert figures == [(10, 10, 1)] * 3


def test_a_fresh_run_starts_cold_whatever_came_before(site):
    params = {"min_size": 2, "max_size": 2}
    first = site.run("native-pool", params, requests=20, concurrency=8)
    warm = site.run("native-pool", params, requests=20, concurrency=8)
    cold = site.run("native-pool", params, requests=20, concurrency=8, fresh=True)
    # A second run reuses the pools' connections; a fresh one opens its own again, and
    # every one of them is new.
    assert set(pids(warm)) & set(pids(first))
    assert cold["summary"]["new_backends"] == cold["summary"]["distinct_backend_pids"] > 0
    assert not set(pids(cold)) & (set(pids(warm)) | set(pids(first)))


def test_a_short_run_is_not_held_up_by_other_learners_long_runs(lab):
    busy = [Http(lab.url) for _ in range(3)]
    long_runs = [client.start("no-pool", **LONG) for client in busy]
    long_runs.append(busy[0].start("no-pool", **LONG))  # busy[0]'s second waits its turn
    wait_status(busy[0], long_runs[0]["url"], {"running"})
    quick = Http(lab.url)
    started = time.monotonic()
    run = quick.run("no-pool", requests=10)
    # One slot is kept for short runs: done in seconds while 4 long runs are queued or
    # running (each keeps the demo server busy for 7.2 s).
    assert time.monotonic() - started < 5
    assert run["summary"]["ok"] == 10
    _, waiting = busy[0].get_json(long_runs[3]["url"])
    assert waiting["status"] == "queued" and waiting["queue_position"] >= 1
    for client, created in zip([*busy, busy[0]], long_runs, strict=True):
        client.post_json(created["url"] + "/cancel", {})


def test_cancel_a_queued_run_at_once_and_a_running_one_within_seconds(site, lab):
    first = site.start("no-pool", **LONG)
    second = site.start("no-pool", **LONG)
    wait_status(site, first["url"], {"running"})
    status, cancelled = site.post_json(second["url"] + "/cancel", {})
    assert status == 200 and cancelled["status"] == "cancelled"
    site.post_json(first["url"] + "/cancel", {})
    started = time.monotonic()
    run = wait_status(site, first["url"], {"cancelled"}, timeout=10)
    assert time.monotonic() - started < 5
    # Requests not sent are said so; those answered are kept.
    kinds = {r.get("error", {}).get("kind") for r in run["results"] if not r["ok"]}
    assert kinds <= {"cancelled"} and run["summary"]["requests"] == 12
    # Every connection went back: no-pool closes each at the end of its request.
    assert not learner_backends(lab, site)


def learner_backends(lab, client: Http) -> set[int]:
    _, body = client.get_json("/api/connections?scope=mine")
    return {row["pid"] for row in body["rows"]}


def test_thirty_simultaneous_runs_take_fair_turns(lab):
    learners = [Http(lab.url) for _ in range(10)]
    created: list[tuple[Http, int, dict]] = []
    lock = threading.Lock()

    def submit(client: Http) -> None:
        for rank in range(3):
            run = client.start("no-pool", requests=6)
            with lock:
                created.append((client, rank, run))

    threads = [threading.Thread(target=submit, args=(c,)) for c in learners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    runs = [(rank, client.wait(run["url"])) for client, rank, run in created]
    assert all(run["status"] == "done" for _, run in runs)
    spans = [(at(run["started"]), at(run["finished"]), rank, run) for rank, run in runs]
    # Never more than 3 at once (the lab's parallel runs), never two of one learner's.
    for start, _, _, _ in spans:
        running = [s for s in spans if s[0] <= start < s[1]]
        assert len(running) <= 3
    for client in learners:
        mine = sorted(
            (at(done["started"]), at(done["finished"]))
            for c, _, r in created
            if c is client
            for done in [c.wait(r["url"])]
        )
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(mine))
    # Fair turns: everyone's first run started before anyone's third.
    first_runs = max(s[0] for s in spans if s[2] == 0)
    third_runs = min(s[0] for s in spans if s[2] == 2)
    assert first_runs <= third_runs


def at(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def test_a_killed_run_worker_leaves_no_run_stuck(site, lab):
    run = site.start("no-pool", requests=40, concurrency=1, hold_ms=200)
    wait_status(site, run["url"], {"running"})
    for name in [n for n in lab.children if n.startswith("worker-")]:
        lab.children[name].proc.kill()  # the one running it dies, whichever it was
        lab.children[name].proc.wait(5)
    failed = wait_status(site, run["url"], {"failed"}, timeout=30)
    assert "run worker stopped after" in failed["error"]
    assert failed["progress"]["done"] < 40
    # The lab has started its workers again meanwhile (as `manage.py tutorial` does).
    after = site.run("no-pool", requests=5)
    assert after["summary"]["ok"] == 5


def test_a_postgresql_restart_mid_run_leaves_no_run_stuck(site, lab, embedded_pg):
    if embedded_pg is None:
        pytest.skip("the suite runs on DATABASE_URL's server, which the lab does not own")
    run = site.start("persistent", {"conn_max_age": 600}, requests=60, concurrency=2, hold_ms=50)
    wait_status(site, run["url"], {"running"})
    embedded_pg.stop()
    embedded_pg.start()
    connections.close_all()  # this test process's own connection died with the server
    finished = wait_status(site, run["url"], {"done", "failed"}, timeout=60)
    # The requests that met the restart say so in words; nothing stays "running".
    errors = {r["error"]["kind"] for r in finished["results"] if not r["ok"]}
    assert errors <= {"connection-lost", "database-down", "demo-down"}, errors
    # The site answers again, and the next run works (kept connections reconnect).
    assert site.run("no-pool", requests=5)["summary"]["ok"] == 5
    dsn = lab.database_url.replace("postgres://", "postgresql://", 1)
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
