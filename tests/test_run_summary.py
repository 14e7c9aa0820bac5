"""The pure logic behind a run's figures, the queue's order and the error boundary (fast)."""

from __future__ import annotations

import json

import pytest

from lessons import boundary, loadgen
from lessons.models import Run
from lessons.runs import queue
from lessons.runs.summary import mark_first_uses, peak_open, percentile, summarise


def served(pid: int, asked: float, ready: float, released: float, **extra) -> dict:
    """A probe result as the demo server writes it (times in seconds)."""
    return {
        "ok": True,
        "backend_pid": pid,
        "backend_start": None,
        "asked_at": asked,
        "acquired_at": ready,
        "released_at": released,
        "new_backend": extra.pop("new", True),
        "opened": extra.pop("opened", True),
        "closed": extra.pop("closed", True),
        "ms": (released - asked) * 1000,
        "worker_pid": 1,
        **extra,
    }


def test_sequential_no_pool_requests_never_hold_two_connections_at_once():
    results = [served(100 + i, i, i + 0.003, i + 0.01) for i in range(10)]
    assert peak_open(results, behind_pgbouncer=False) == 1


def test_overlapping_requests_count_each_connection_while_it_is_open():
    results = [
        served(1, 0.0, 0.01, 1.0),
        served(2, 0.5, 0.51, 1.5),
        served(3, 0.9, 0.91, 2.0),
        served(4, 1.2, 1.21, 2.2),  # 1 closed at 1.0: three open at most
    ]
    assert peak_open(results, behind_pgbouncer=False) == 3


def test_a_pooled_connection_stays_open_until_the_run_ends():
    # A pool returns connections instead of closing them: two connections, each used
    # once, are both open until the end of the run.
    results = [
        served(1, 0.0, 0.01, 0.1, closed=False),
        served(2, 5.0, 5.01, 5.1, closed=False),
    ]
    assert peak_open(results, behind_pgbouncer=False) == 2


def test_behind_pgbouncer_a_client_closing_leaves_the_server_open():
    results = [
        served(7, 0.0, 0.01, 0.1, closed=True, opened=False),
        served(7, 0.2, 0.21, 0.3, closed=True, opened=False),
        served(8, 0.4, 0.41, 0.5, closed=True, opened=False),
    ]
    assert peak_open(results, behind_pgbouncer=True) == 2
    assert peak_open(results, behind_pgbouncer=False) == 1


def test_new_follows_the_time_a_connection_was_first_used_not_send_order():
    later_sent_first_served = served(5, 0.1, 0.2, 0.3)
    earlier_sent_later_served = served(5, 0.0, 0.5, 0.6)
    results = [earlier_sent_later_served, later_sent_first_served]
    mark_first_uses(results, behind_pgbouncer=True)
    assert [r["new_backend"] for r in results] == [False, True]


def test_summary_keeps_wait_connect_and_query_apart():
    results = [
        served(1, 0, 0.1, 0.2, wait_ms=90.0, connect_ms=0.0, query_ms=5.0),
        served(2, 0, 0.01, 0.2, wait_ms=0.0, connect_ms=3.0, query_ms=5.0),
        {"ok": False, "ms": 500, "error": {"kind": "pool-timeout"}},
    ]
    summary = summarise(results, 1.0)
    assert summary["wait_max_ms"] == 90.0
    assert summary["connect_p50_ms"] == 3.0  # only requests that opened a connection
    assert summary["errors_by_kind"] == {"pool-timeout": 1}
    assert summary["distinct_backend_pids"] == 2


def test_percentile_is_inclusive_and_empty_safe():
    assert percentile([], 50) is None
    assert percentile([7.0], 95) == 7.0
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50) == 5.5


def test_fair_order_gives_everyone_a_first_turn_before_anyone_a_second():
    runs = [Run(pk=i, learner_id=who) for i, who in enumerate("AAAB C".replace(" ", ""), 1)]
    order = [(r.learner_id, r.pk) for r in queue.fair_order(runs)]
    assert order == [("A", 1), ("B", 4), ("C", 5), ("A", 2), ("A", 3)]


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (409, b'{"error": "The lab is at its connection budget", "field": "strategy"}', "lab-busy"),
        (502, b"<html>Bad Gateway</html>", "demo-down"),
        (500, b"oops", "http"),
        (400, b'{"error": "hold_ms must be...", "field": "hold_ms"}', "http"),
    ],
)
def test_any_answer_of_the_demo_server_becomes_a_readable_result(status, body, kind):
    result = loadgen.as_result(status, body)
    assert result["error"]["kind"] == kind and result["error"]["message"]


def test_a_probes_own_error_is_kept_as_it_is():
    probe = {"error": {"kind": "pool-timeout", "title": "Pool timeout", "message": "..."}}
    assert loadgen.as_result(503, json.dumps(probe).encode()) == probe


@pytest.mark.parametrize(
    ("text", "depth"),
    [("[]", 1), ('{"a": [1, {"b": 2}]}', 3), ('"[[[[["', 0), ('["]]]", [[]]]', 3)],
)
def test_json_depth_is_read_without_recursion(text, depth):
    assert boundary._depth(text) == depth


def test_a_hostile_depth_stops_early():
    assert boundary._depth("[" * 100_000) == boundary.MAX_DEPTH + 1
