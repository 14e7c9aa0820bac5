"""A finished run's figures, each one true for this run alone.

`peak_server_connections` is exact, not sampled: each connection that served the run is
open from the moment it was ready for a request (opened for it, or first handed to it)
until a request's release closed it, the demo process saw it go away (`gone`: under ASGI
a request's persistent connection dies with its context), or the run ended; the peak is
the most such intervals that overlap. Ten sequential no-pool requests therefore show 1,
whatever else the server does.
"""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

Result = dict[str, Any]


def percentile(values: list[float], pct: int) -> float | None:
    """The pct-th percentile (inclusive method), or None without values."""
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 2)
    return round(statistics.quantiles(values, n=100, method="inclusive")[pct - 1], 2)


def backend_id(result: Result) -> tuple[int, str | None]:
    # A PID alone may be reused by the operating system; with its start time it may not.
    return result["backend_pid"], result.get("backend_start")


def _served(results: list[Result]) -> list[Result]:
    served = [r for r in results if r.get("ok") and r.get("backend_pid") is not None]
    return sorted(served, key=lambda r: r.get("acquired_at") or 0)


def _epoch(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso).timestamp() if iso else None


def mark_first_uses(results: list[Result], behind_pgbouncer: bool) -> None:
    """Make `new_backend` follow time: only a backend's first use in the run can be new.

    Django-side, the demo process knows whether a connection served a request before.
    Behind PgBouncer a server connection may have served the other worker process, so it
    counts as new only if it started during this run.
    """
    served = _served(results)
    if not served:
        return
    run_start = min(r.get("asked_at") or 0 for r in served)
    seen: set[tuple[int, str | None]] = set()
    for result in served:
        key = backend_id(result)
        first = key not in seen
        seen.add(key)
        started = _epoch(result.get("backend_start"))
        during = started is None or started >= run_start - 0.001
        result["new_backend"] = bool(
            first and result.get("new_backend") and (during or not behind_pgbouncer)
        )


def peak_open(
    results: list[Result], behind_pgbouncer: bool, gone: dict[str, float] | None = None
) -> int:
    """The most of this run's connections open at the same moment (exact, see above)."""
    served = _served(results)
    if not served:
        return 0
    run_end = max(r.get("released_at") or 0 for r in served)
    spans: dict[tuple[int, str | None], list[float]] = {}
    for result in served:
        key = backend_id(result)
        if key not in spans:
            # From when the connection was ready (a connect may wait for a free slot
            # before it succeeds; until then it is not one of the run's open connections).
            spans[key] = [result["acquired_at"], run_end]
        # Behind PgBouncer the client's close leaves the server connection open.
        if result.get("closed") and not behind_pgbouncer:
            spans[key][1] = min(spans[key][1], result["released_at"])
    for (pid, start), span in spans.items():
        went = (gone or {}).get(f"{pid}@{start}")
        if went is not None and went >= span[0]:
            span[1] = min(span[1], went)
    # At equal times a close comes before an open: a connection closed and another opened
    # at once were not both open.
    events = sorted(
        [(start, 1) for start, _ in spans.values()] + [(end, -1) for _, end in spans.values()]
    )
    peak = level = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


def summarise(
    results: list[Result],
    elapsed_s: float,
    *,
    behind_pgbouncer: bool = False,
    pools: dict[str, Any] | None = None,
    gone: dict[str, float] | None = None,
) -> dict[str, Any]:
    mark_first_uses(results, behind_pgbouncer)
    ok = [r for r in results if r.get("ok")]
    errors: dict[str, int] = {}
    for r in results:
        if not r.get("ok"):
            kind = (r.get("error") or {}).get("kind", "http")
            errors[kind] = errors.get(kind, 0) + 1
    sent = [r for r in results if (r.get("error") or {}).get("kind") not in {"cancelled"}]
    return {
        "requests": len(results),
        "ok": len(ok),
        "errors": len(results) - len(ok),
        "errors_by_kind": errors,
        "distinct_backend_pids": len({backend_id(r) for r in ok if r.get("backend_pid")}),
        "new_backends": sum(1 for r in ok if r.get("new_backend")),
        "worker_pids": sorted({r["worker_pid"] for r in ok if r.get("worker_pid")}),
        "p50_ms": percentile([r["ms"] for r in sent if r.get("ms")], 50),
        "p95_ms": percentile([r["ms"] for r in sent if r.get("ms")], 95),
        "wait_p50_ms": percentile([r["wait_ms"] for r in ok if r.get("wait_ms") is not None], 50),
        "wait_max_ms": max((r.get("wait_ms") or 0 for r in ok), default=None),
        "connect_p50_ms": percentile([r["connect_ms"] for r in ok if r.get("connect_ms")], 50),
        "query_p50_ms": percentile([r["query_ms"] for r in ok if r.get("query_ms")], 50),
        "req_per_s": round(len(sent) / elapsed_s, 1) if elapsed_s > 0 and sent else None,
        "peak_server_connections": peak_open(results, behind_pgbouncer, gone),
        "pools": pools or {},
    }
