"""A live picture of the lab for one run: workers x threads -> pool -> backend PIDs.

Built from the run's own results so far (worker_pid, thread, backend_pid, the times a
request asked for, got and gave back its connection) and, once the run is over, from the
pool statistics in its summary. Each figure is exact for the requests answered so far:
"at once" counts overlapping intervals of those requests, never a sample.
"""

from __future__ import annotations

import re
from typing import Any

from .. import lab, strategies
from ..models import Run
from ..runs import present

Result = dict[str, Any]
# A wait shorter than this is the pool handing over an idle connection, not queueing.
WAITED_MS = 1.0
# Past this many backends in one box the rest are counted, not drawn.
SHOWN_BACKENDS = 24
SHOWN_THREADS = 16


def run_view(run: Run) -> dict[str, Any]:
    """The run's view model (lessons.runs.present) with its picture."""
    model = present.view_model(run)
    model["picture"] = build(run, model)
    return model


def _peak(spans: list[tuple[float, float]]) -> int:
    # At equal times an end comes before a start: handed back, then handed on.
    events = sorted([(a, 1) for a, b in spans if b > a] + [(b, -1) for a, b in spans if b > a])
    peak = level = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


def _client_spans(results: list[Result]) -> list[tuple[float, float]]:
    """When each request held its Django connection (behind PgBouncer: a client
    connection, which may share its server with others)."""
    return [
        (r["acquired_at"], r["released_at"])
        for r in results
        if r.get("acquired_at") and r.get("released_at")
    ]


def _held(results: list[Result]) -> list[tuple[float, float]]:
    """When each connection was lent out. A request notes its release only after the pool
    has it back, so the next borrower of the same backend may start first: a backend's
    turn ends, at the latest, when its next one begins (one backend serves one at a time)."""
    turns: dict[int, list[list[float]]] = {}
    for r in sorted(results, key=lambda r: r.get("acquired_at") or 0):
        if r.get("acquired_at") and r.get("released_at"):
            turns.setdefault(r["backend_pid"], []).append([r["acquired_at"], r["released_at"]])
    spans = []
    for backend in turns.values():
        for turn, following in zip(backend, [*backend[1:], None], strict=True):
            end = min(turn[1], following[0]) if following else turn[1]
            spans.append((turn[0], end))
    return spans


def _queued(results: list[Result]) -> list[tuple[float, float]]:
    return [
        (r["acquired_at"] - r["wait_ms"] / 1000, r["acquired_at"])
        for r in results
        if r.get("acquired_at") and (r.get("wait_ms") or 0) >= WAITED_MS
    ]


def _backends(results: list[Result]) -> dict[str, Any]:
    seen: dict[int, dict[str, Any]] = {}
    for r in sorted(results, key=lambda r: r.get("acquired_at") or 0):
        item = seen.setdefault(r["backend_pid"], {"pid": r["backend_pid"], "hue": r.get("hue")})
        item["count"] = item.get("count", 0) + 1
    items = list(seen.values())
    return {"shown": items[:SHOWN_BACKENDS], "more": max(0, len(items) - SHOWN_BACKENDS)}


def _labels(names: list[str]) -> dict[str, str]:
    """Short names for a worker's threads: the numbers that tell them apart
    (ThreadPoolExecutor-0_3 -> "3" under gthread; -80_0 -> "80" under uvicorn)."""
    groups = {name: re.findall(r"\d+", name) for name in names}
    width = min((len(g) for g in groups.values()), default=0)
    differ = [i for i in range(width) if len({g[i] for g in groups.values()}) > 1]
    return {
        name: ".".join(g[i] for i in differ) or (g[-1] if g else name[:8])
        for name, g in groups.items()
    }


def _threads(results: list[Result]) -> dict[str, Any]:
    threads: dict[str, dict[str, Any]] = {}
    for r in sorted(results, key=lambda r: r.get("acquired_at") or 0):
        name = r.get("thread") or "?"
        item = threads.setdefault(name, {"name": name, "served": 0})
        item["served"] += 1
        item["hue"] = r.get("hue")  # the backend it used last
        item["pid"] = r.get("backend_pid")
    labels = _labels(list(threads))
    items = [{**t, "label": labels[t["name"]]} for t in threads.values()]
    items.sort(key=lambda t: (len(t["label"]), t["label"]))
    return {"shown": items[:SHOWN_THREADS], "more": max(0, len(items) - SHOWN_THREADS)}


def _load(results: list[Result], clients: bool = False) -> dict[str, Any]:
    waited = [r for r in results if (r.get("wait_ms") or 0) >= WAITED_MS]
    return {
        "opened": len({r["backend_pid"] for r in results}),
        "in_use": _peak(_client_spans(results) if clients else _held(results)),
        "waiting": _peak(_queued(results)),
        "waited": len(waited),
        "wait_max_ms": round(max((r["wait_ms"] for r in waited), default=0)),
    }


def _after(stats: dict[str, Any] | None) -> dict[str, Any] | None:
    """A pool's own statistics after the run, whichever pool it is (psycopg_pool keeps
    quiet about zeros, so each figure defaults to 0)."""
    if not stats:
        return None
    if stats.get("kind") == "QueuePool":
        size, idle = (
            stats.get("size", 0) + max(stats.get("overflow", 0), 0),
            stats.get("checked_in", 0),
        )
        return {"size": size, "idle": idle, "waiting": 0}
    return {
        "size": stats.get("pool_size", 0),
        "idle": stats.get("pool_available", 0),
        "waiting": stats.get("requests_waiting", 0),
    }


def _pool_label(strategy: strategies.Strategy, params: dict[str, Any], capacity: int | None):
    at_most = f"at most {capacity} at once" if capacity is not None else "no fixed bound"
    if strategy.pgbouncer_mode:
        return f"Django → PgBouncer: one client connection per thread, {at_most}"
    if strategy.pool.kind == "none":
        kept = params.get("conn_max_age", 0) != 0
        life = "kept between requests" if kept else "closed after each request"
        return f"No pool: one connection per thread, {life}; {at_most}"
    return f"{strategy.pool.kind}: {at_most}, shared by the threads"


def _middle(strategy: strategies.Strategy, capacity: int | None) -> str:
    """What sits between the threads and PostgreSQL, in the caption's few words."""
    if strategy.pgbouncer_mode:
        return "Django's client connections → PgBouncer"
    if strategy.pool.kind == "none":
        return "a connection per thread"
    return f"a {strategy.pool.kind} pool per worker (up to {capacity})"


def build(run: Run, model: dict[str, Any]) -> dict[str, Any] | None:
    """The picture's view model, or None for a run that is not probes of one strategy."""
    strategy = strategies.STRATEGIES.get(run.strategy)
    if strategy is None or run.kind != Run.Kind.RUN:
        return None
    cfg = lab.config()
    asgi = run.server == "asgi"
    threads = cfg["WSGI_THREADS"]
    capacity: int | None = strategy.per_process_max(run.params, threads)
    if asgi and strategy.pool.kind == "none":
        capacity = None  # a thread per request under ASGI: nothing bounds it
    served = [r for r in model["results"] if r.get("ok") and r.get("backend_pid") is not None]
    by_worker: dict[int, list[Result]] = {}
    for r in sorted(served, key=lambda r: r.get("acquired_at") or 0):
        by_worker.setdefault(r.get("worker_pid") or 0, []).append(r)
    failed: dict[int, int] = {}
    for r in model["results"]:
        if not r.get("ok") and r.get("worker_pid"):
            failed[r["worker_pid"]] = failed.get(r["worker_pid"], 0) + 1
    pools = (run.summary or {}).get("pools") or {}
    shared = bool(strategy.pgbouncer_mode)
    workers = [
        {
            "pid": pid,
            "threads": _threads(results),
            "load": _load(results, clients=shared),
            "after": _after(pools.get(str(pid))),
            "failed": failed.get(pid, 0),
            "backends": None if shared else _backends(results),
        }
        for pid, results in by_worker.items()
    ]
    in_flight = 0 if model["finished"] else min(run.concurrency, run.requests - run.done)
    return {
        "server": "uvicorn" if asgi else "gunicorn",
        "workers_configured": cfg["ASGI_WORKERS"] if asgi else cfg["WSGI_WORKERS"],
        "threads_configured": None if asgi else threads,
        "pool_label": _pool_label(strategy, run.params, capacity),
        "middle": _middle(strategy, capacity),
        "capacity": capacity,
        "workers": workers,
        "idle_workers": max(
            0, (cfg["ASGI_WORKERS"] if asgi else cfg["WSGI_WORKERS"]) - len(workers)
        ),
        "bouncer": _bouncer(strategy, run.params, served) if shared else None,
        "in_flight": in_flight,
        "backends_total": len({r["backend_pid"] for r in served}),
        "finished": model["finished"],
        "asgi": asgi,
    }


def _bouncer(strategy: strategies.Strategy, params: dict[str, Any], served: list[Result]):
    """PgBouncer's one pool, shared by every worker: its server connections are the PIDs."""
    return {
        "mode": strategy.pgbouncer_mode,
        "size": params.get(strategy.size_param or "pool_size"),
        "load": _load(served, clients=True),
        "backends": _backends(served),
    }
