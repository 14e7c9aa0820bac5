"""The JSON API answers bad input with a clear 4xx naming the field, never a 500."""

from __future__ import annotations

import urllib.parse

import pytest


def test_strategies_list_every_registry_entry_with_params(site):
    status, body = site.get_json("/api/strategies")
    assert status == 200
    slugs = [s["slug"] for s in body]
    assert slugs == [
        "no-pool",
        "persistent",
        "native-pool",
        "dbcp",
        "pgbouncer-session",
        "pgbouncer-transaction",
    ]
    persistent = body[1]
    assert persistent["available"] is True and persistent["reason"] is None
    assert persistent["params"]["conn_max_age"] == {
        "type": "seconds_or_none",
        "default": 60,
        "min": 0,
        "max": 3600,
        "help": "Seconds a connection is kept; none keeps it without limit.",
    }
    assert body[5]["params"]["pool_size"]["max"] == 8


def test_lab_reports_the_demo_server_it_really_runs(site, lab):
    status, body = site.get_json("/api/lab")
    assert status == 200
    assert body["wsgi"] == {
        "server": "gunicorn (gthread)",
        "workers": 2,
        "threads": 4,
        "url": lab.demo_url,
    }
    assert body["asgi"] == {"server": "uvicorn", "workers": 1, "url": lab.asgi_url}
    assert body["postgres"]["max_connections"] >= 20
    # Default budget: half of max_connections (nothing configured in the tests), split
    # into the demo roles' slices.
    assert body["connection_budget"] == body["postgres"]["max_connections"] // 2
    assert sum(body["budget_slices"].values()) == body["connection_budget"]
    assert body["demo_role"] == "pooling_lab_demo"


def test_probe_answers_with_a_real_backend_pid(demo, site):
    status, body = demo.get_json("/probe/no-pool/")
    assert status == 200
    assert isinstance(body["backend_pid"], int) and body["backend_pid"] > 0
    assert body["strategy"] == "no-pool"
    # Without a pool the request opens its own connection: no wait, a connect time.
    assert body["wait_ms"] == 0 and body["connect_ms"] > 0 and body["query_ms"] > 0
    assert set(body) >= {"worker_pid", "thread", "new_backend", "at", "backend_start"}


def test_probe_hold_ms_keeps_the_connection_busy(demo):
    status, body = demo.get_json("/probe/no-pool/?hold_ms=300")
    assert status == 200
    # pg_sleep(0.3) runs inside the timed query.
    assert body["query_ms"] >= 300


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/probe/nope/", 404, "strategy"),
        ("/probe/no-pool/?hold_ms=abc", 400, "hold_ms"),
        ("/probe/no-pool/?hold_ms=2001", 400, "hold_ms"),
        ("/probe/no-pool/?hold_ms=-1", 400, "hold_ms"),
        ("/probe/no-pool/?hold_ms=1.5", 400, "hold_ms"),
        ("/probe/no-pool/?hold_ms=nan", 400, "hold_ms"),
        ("/probe/persistent/?conn_max_age=forever", 400, "conn_max_age"),
        ("/probe/persistent/?conn_max_age=3601", 400, "conn_max_age"),
        ("/probe/persistent/?health_checks=maybe", 400, "health_checks"),
        ("/probe/persistent/?color=blue", 400, "color"),
        ("/probe/native-pool/?max_size=0", 400, "max_size"),
        ("/probe/native-pool/?min_size=5&max_size=2", 400, "min_size"),
        ("/probe/native-pool/?timeout=0", 400, "timeout"),
        ("/probe/dbcp/?pool_size=1e9", 400, "pool_size"),
        ("/probe/no-pool/?owner=zz", 400, "owner"),
    ],
)
def test_bad_probe_input_gets_a_4xx_naming_the_field(demo, path, status, field):
    got, body = demo.get_json(path)
    assert got == status, body
    assert body["field"] == field
    assert body["error"]


def test_a_choice_past_the_budget_is_refused_naming_it(demo, lab):
    # 20 + 20 per worker x 2 workers = 80 connections, past a budget of max_connections / 2.
    status, body = demo.get_json("/probe/dbcp/?pool_size=20&max_overflow=20")
    assert status == 409
    assert body["field"] == "pool_size"
    assert "slice of the connection budget" in body["error"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"strategy": None}, "strategy"),
        ({"strategy": "no-pool", "requests": 501}, "requests"),
        ({"strategy": "no-pool", "requests": 0}, "requests"),
        ({"strategy": "no-pool", "concurrency": 33}, "concurrency"),
        ({"strategy": "no-pool", "hold_ms": 5000}, "hold_ms"),
        # 500 x 2000 ms / 1 would keep the demo server busy for 1,000 s.
        ({"strategy": "no-pool", "requests": 500, "hold_ms": 2000}, "requests"),
        ({"strategy": "no-pool", "server": "cgi"}, "server"),
        ({"strategy": "no-pool", "fresh": "perhaps"}, "fresh"),
        ({"strategy": "persistent", "params": {"conn_max_age": -1}}, "conn_max_age"),
        ({"strategy": "persistent", "params": []}, "params"),
        (["not", "an", "object"], "body"),
    ],
)
def test_bad_run_requests_get_400_naming_the_field(site, body, field):
    status, answer = site.post_json("/api/runs", body)
    assert status == 400, answer
    assert answer["field"] == field


def test_run_for_an_unknown_strategy_is_404(site):
    status, answer = site.post_json("/api/runs", {"strategy": "nope"})
    assert status == 404 and answer["field"] == "strategy"
    assert "no-pool" in answer["allowed"]


def test_malformed_json_is_400(site):
    status, body, _ = site.request(
        "POST", "/api/runs", headers={"Content-Type": "application/json"}
    )
    assert status == 400 and b'"field": "body"' in body


def test_unknown_run_and_unknown_api_path_are_404_json(site):
    status, body = site.get_json("/api/runs/999999")
    assert status == 404 and body["field"] == "path"
    status, body = site.get_json("/api/nothing-here")
    assert status == 404 and "strategies" in body["allowed"]


def test_connection_cost_measures_connect_slower_than_a_query(site):
    status, body = site.get_json("/api/connection-cost?samples=20")
    assert status == 200
    assert body["samples"] == 20
    # A new connection means a fork of a backend and authentication; a query on an
    # open one is a round trip. On any machine the first costs several times more.
    assert body["connect_ms"]["median"] > 2 * body["query_ms"]["median"]
    assert body["ratio"] > 2
    assert body["connect_ms"]["p95"] >= body["connect_ms"]["median"]


@pytest.mark.parametrize("samples", ["0", "201", "x", "4"])
def test_connection_cost_samples_are_bounded(site, samples):
    status, body = site.get_json(f"/api/connection-cost?samples={samples}")
    assert status == 400 and body["field"] == "samples"
    assert body["allowed"] == "a whole number from 5 to 200"


GARBAGE = ["%00", "%ff%fe", "x" * 3000, "-0", "1e400", "[]", "{}", "🙂", "None", "true", "²"]


@pytest.mark.parametrize("value", GARBAGE)
def test_no_input_gets_a_5xx_from_any_endpoint(site, demo, value):
    quoted = urllib.parse.quote(value, safe="%")
    for client, path in [
        (demo, f"/probe/persistent/?conn_max_age={quoted}&health_checks={quoted}"),
        (demo, f"/probe/native-pool/?timeout={quoted}&hold_ms={quoted}"),
        (demo, f"/probe/dbcp/?pool_size={quoted}"),
        (site, f"/api/connection-cost?samples={quoted}"),
        (site, f"/demos/connection-cost/?samples={quoted}"),
        (site, f"/runs/compare/?ids={quoted}"),
        (site, f"/lessons/{quoted}/"),
        (site, f"/probe/{quoted}/"),
    ]:
        status, body, _ = client.request("GET", path)
        assert 200 <= status < 500, (path, status, body[:200])
    status, body = site.post_json(
        "/api/runs", {"strategy": "dbcp", "params": {"timeout": value}, "requests": value}
    )
    assert status == 400, body


def test_a_json_number_too_large_for_a_float_is_400(site):
    status, body = site.post_json("/api/runs", {"strategy": "no-pool", "requests": 10**400})
    assert status == 400 and body["field"] == "requests"
