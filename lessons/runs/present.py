"""A run as the API gives it and as the pages show it."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from .. import strategies
from ..models import Run

# Probe fields a learner reads; the timing marks behind the exact figures stay in `results`.
SUMMARY_ROWS = [
    ("distinct_backend_pids", "Distinct backend PIDs"),
    ("new_backends", "New connections"),
    ("peak_server_connections", "Peak connections open at once"),
    ("ok", "Answered"),
    ("errors", "Errors"),
    ("p50_ms", "p50 ms"),
    ("p95_ms", "p95 ms"),
    ("wait_max_ms", "Longest wait for a connection, ms"),
    ("connect_p50_ms", "Connect p50 ms (new connections)"),
    ("req_per_s", "Requests/s"),
]


def as_json(run: Run) -> dict[str, Any]:
    data = {
        "id": run.pk,
        "url": reverse("api-run", args=[run.pk]),
        "kind": run.kind,
        "strategy": run.strategy,
        "params": run.params,
        "server": run.server,
        "requests": run.requests,
        "concurrency": run.concurrency,
        "hold_ms": run.hold_ms,
        "work_ms": run.work_ms,
        "fresh": run.fresh,
        "status": run.status,
        "error": run.error or None,
        "progress": {"done": run.done, "total": run.requests},
        "results": [r for r in run.results if r is not None],
        "summary": run.summary,
        "created": run.created.isoformat() if run.created else None,
        "started": run.started.isoformat() if run.started else None,
        "finished": run.finished.isoformat() if run.finished else None,
    }
    if run.kind != Run.Kind.RUN:
        data["spec"] = run.spec
    if run.kind == Run.Kind.PITFALL:
        from ..pitfalls import present as pitfall

        data["pitfall"] = pitfall.block(run)  # what lesson 7's checkpoints measure
    if run.status == Run.Status.QUEUED:
        # 0: chosen, about to start on a worker.
        data["queue_position"] = run.position or 0
    return data


def brief(run: Run) -> dict[str, Any]:
    """A line in "my runs": enough to find a run again without its results."""
    data = as_json(run)
    data.pop("results")
    return data


def hue(index: int) -> int:
    """The colour of the index-th PID: a class hue-0 ... hue-35 (10 degree steps) sets it.

    Golden-angle steps keep neighbouring PIDs' colours far apart; classes rather than an
    inline style, so that the Content-Security-Policy needs no 'unsafe-inline'.
    """
    return round(index * 137.508) % 360 // 10


def view_model(run: Run) -> dict[str, Any]:
    """What the run templates show: results coloured by backend, in the order of time."""
    data = as_json(run)
    results = data["results"]
    for number, result in enumerate(results, start=1):
        result["number"] = number
    by_time = sorted(results, key=lambda r: r.get("acquired_at") or r.get("asked_at") or 0)
    order: dict[Any, int] = {}
    counts: dict[Any, int] = {}
    for result in by_time:
        pid = result.get("backend_pid")
        if pid is not None:
            order.setdefault(pid, len(order))
            counts[pid] = counts.get(pid, 0) + 1
        result["hue"] = hue(order[pid]) if pid is not None else None
    strategy = strategies.STRATEGIES.get(run.strategy)
    summary = run.summary or {}
    data.update(
        finished=run.finished_running,
        by_time=by_time,
        percent=int(100 * run.done / run.requests) if run.requests else 100,
        pids=[{"pid": pid, "hue": hue(i), "count": counts[pid]} for pid, i in order.items()],
        title=strategy.title if strategy else run.strategy,
        params_text=run.params_text,
        created=run.created,
        figures=[
            {"key": key, "label": label, "value": summary.get(key)}
            for key, label in SUMMARY_ROWS
            if key in summary
        ],
    )
    return data


def compare(runs: list[Run]) -> dict[str, Any]:
    """Chosen runs in one aligned table; each figure beside the first run's, with the change."""
    rows = []
    for key, label in SUMMARY_ROWS:
        values = [(r.summary or {}).get(key) for r in runs]
        base = values[0] if values else None
        cells = []
        for value in values:
            delta = None
            if isinstance(value, int | float) and isinstance(base, int | float):
                delta = round(value - base, 2)
            cells.append({"value": value, "delta": delta})
        rows.append({"label": label, "cells": cells})
    return {"runs": [view_model(r) for r in runs], "rows": rows}
