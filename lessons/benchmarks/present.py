"""A benchmark as the API gives it and as the pages show it, alone or beside another."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from .. import strategies
from ..models import Run
from . import charts, figures

# What GET /api/benchmarks/<id> says of each strategy.
PUBLIC = ("strategy", "req_per_s", "p50_ms", "p95_ms", "peak_server_connections", "errors")


def order(run: Run) -> list[str]:
    return [t["strategy"] for t in run.spec.get("targets", [])]


def results(run: Run) -> list[dict[str, Any]]:
    """The finished figures, or while it runs, the rounds measured so far."""
    summary = run.summary or {}
    if "results" in summary:
        return summary["results"]
    return figures.aggregate([s for s in run.results if s], order(run))


def as_json(run: Run) -> dict[str, Any]:
    spec, summary = run.spec, run.summary or {}
    data = {
        "id": run.pk,
        "url": reverse("api-benchmark", args=[run.pk]),
        "page": reverse("benchmark", args=[run.pk]),
        "status": run.status,
        "error": run.error or None,
        "progress": {"done": run.done, "total": run.requests},
        "strategies": order(run),
        "seconds": spec.get("seconds"),
        "rounds": spec.get("rounds"),
        "concurrency": spec.get("concurrency"),
        "client": summary.get("client"),
        "results": [
            {**{k: line[k] for k in PUBLIC}, "rounds": line["rounds"]} for line in results(run)
        ],
        "created": run.created.isoformat() if run.created else None,
        "finished": run.finished.isoformat() if run.finished else None,
    }
    if run.status == Run.Status.QUEUED:
        data["queue_position"] = run.position or 0
    return data


def _params_text(run: Run) -> dict[str, str]:
    return {
        t["strategy"]: ", ".join(
            f"{k}={'none' if v is None else v}" for k, v in t["params"].items()
        )
        for t in run.spec.get("targets", [])
    }


def view_model(run: Run) -> dict[str, Any]:
    """What the benchmark block shows: progress, the headline, three charts, the table."""
    data = as_json(run)
    lines = results(run)
    params = _params_text(run)
    for line in lines:
        strategy = strategies.STRATEGIES.get(line["strategy"])
        line["title"] = strategy.title if strategy else line["strategy"]
        line["params"] = params.get(line["strategy"], "")
    summary = run.summary or {}
    data.update(
        finished=run.finished_running,
        percent=int(100 * run.done / run.requests) if run.requests else 100,
        lines=lines,
        measured=any(line["req_per_s"] is not None for line in lines),
        headline=figures.headline(lines) if run.status == Run.Status.DONE else None,
        charts=charts.benchmark_charts(lines),
        server=summary.get("server"),
        created=run.created,
        seconds_left=_seconds_left(run),
    )
    return data


def _seconds_left(run: Run) -> int:
    """A rough time to go, for the button's promise and the progress line."""
    spec = run.spec
    per_round = spec.get("round_seconds", 1) + 0.3  # the round and its warm-up
    return round((run.requests - run.done) * per_round)


def expected_seconds(strategy_count: int, seconds: int) -> int:
    """About how long a benchmark takes: its rounds, warm-ups and the first connections."""
    return round(strategy_count * seconds * 1.3 + 2)


def brief(run: Run) -> dict[str, Any]:
    """A line in "my benchmarks": enough to recognise it and pick it for a comparison."""
    data = as_json(run)
    data["short"] = figures.short(results(run)) if run.status == Run.Status.DONE else None
    data["created_at"] = run.created
    return data


def compare(first: Run, second: Run) -> dict[str, Any]:
    """Two benchmarks, chart by chart, and each figure's change from the first to the second."""
    a, b = results(first), results(second)
    labels = (f"#{first.pk}", f"#{second.pk}")
    by_slug = {r["strategy"]: r for r in b}
    rows = []
    for line in a:
        other = by_slug.get(line["strategy"]) or {}
        cells = []
        for key, title, _, fmt in charts.METRICS:
            old, new = line.get(key), other.get(key)
            change = None
            if old and new is not None:
                change = round(100 * (new - old) / old)
            cells.append(
                {
                    "title": title,
                    "a": None if old is None else fmt(old),
                    "b": None if new is None else fmt(new),
                    "change": change,
                }
            )
        rows.append({"strategy": line["strategy"], "cells": cells})
    return {
        "runs": [brief(first), brief(second)],
        "charts": charts.comparison_charts(a, b, labels),
        "rows": rows,
        "metrics": [m[1] for m in charts.METRICS],
    }
