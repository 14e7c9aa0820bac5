"""Runs: a bounded load of probes against the demo server, with live progress."""

from __future__ import annotations

import logging
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

from django.db import close_old_connections, connections
from django.utils import timezone

from . import budget, lab, monitor, strategies
from .models import Run
from .params import BadInput, Param

log = logging.getLogger(__name__)

HOLD = Param("hold_ms", "int", 0, 0, 2000, "Milliseconds each request holds its connection.")
RUN_DEADLINE_S = 120
FLUSH_EVERY_S = 0.25

_executor: ThreadPoolExecutor | None = None


class LabQueueFull(RuntimeError):
    """Too many runs waiting (HTTP 409): a room shares one demo server."""


_executor_lock = threading.Lock()


def run_fields() -> tuple[Param, Param, Param]:
    cfg = lab.config()
    return (
        Param("requests", "int", 10, 1, cfg["MAX_RUN_REQUESTS"], "How many requests to send."),
        Param(
            "concurrency", "int", 1, 1, cfg["MAX_RUN_CONCURRENCY"], "Requests in flight at once."
        ),
        HOLD,
    )


def create(body: Any) -> Run:
    """Validate a run request (raises BadInput / OverBudget / Unavailable) and queue it."""
    if not isinstance(body, dict):
        raise BadInput("body", "the body must be a JSON object", "an object")
    slug = body.get("strategy")
    if not isinstance(slug, str):
        raise BadInput("strategy", "strategy is required", sorted(strategies.STRATEGIES))
    strategy = strategies.get_available(slug)  # UnknownStrategy (404) or Unavailable (409)
    raw_params = body.get("params", {})
    if not isinstance(raw_params, dict):
        raise BadInput("params", "params must be an object", "an object of parameters")
    params = strategy.parse(raw_params)
    budget.check_choice(strategy, params)
    requests, concurrency, hold_ms = (field.parse(body.get(field.name)) for field in run_fields())
    waiting = Run.objects.filter(status=Run.Status.QUEUED).count()
    if waiting >= lab.config()["MAX_QUEUED_RUNS"]:
        raise LabQueueFull(
            f"{waiting} runs are already waiting for the demo server; try again in a minute."
        )
    run = Run.objects.create(
        strategy=slug, params=params, requests=requests, concurrency=concurrency, hold_ms=hold_ms
    )
    _submit(run.pk)
    return run


def _submit(run_id: int) -> None:
    global _executor
    with _executor_lock:
        if _executor is None:
            # Runs past this many wait their turn ("queued"): a room of learners
            # shares one demo server.
            _executor = ThreadPoolExecutor(lab.config()["MAX_PARALLEL_RUNS"], "run")
        _executor.submit(_execute_safely, run_id)


def probe_path(run: Run) -> str:
    query = {k: ("none" if v is None else v) for k, v in run.params.items()}
    query["hold_ms"] = run.hold_ms
    return f"/probe/{run.strategy}/?{urlencode(query)}"


def _execute_safely(run_id: int) -> None:
    try:
        execute(run_id)
    except Exception as exc:
        log.exception("run %s failed", run_id)
        Run.objects.filter(pk=run_id).update(
            status=Run.Status.FAILED, error=str(exc), finished=timezone.now()
        )
    finally:
        # This thread is not a request: return its connection itself.
        connections.close_all()


def _demo_server_answers(base: str, timeout: float) -> bool:
    """The demo server may still be booting right after the lab starts; give it a moment."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/api/strategies", timeout=2):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def execute(run_id: int) -> None:
    run = Run.objects.get(pk=run_id)
    base = lab.config()["WSGI_URL"]
    if not _demo_server_answers(base, timeout=20):
        raise RuntimeError(f"The demo server at {base} is not answering; is the lab running?")
    run.status = Run.Status.RUNNING
    run.save(update_fields=["status"])
    results: list[dict | None] = [None] * run.requests
    lock = threading.Lock()
    done = 0

    def on_result(index: int, result: dict) -> None:
        nonlocal done
        with lock:
            results[index] = result
            done += 1

    from .loadgen import fetch_json

    slug = strategies.get(run.strategy).application_name
    with monitor.PeakSampler(slug) as peak:
        started = time.perf_counter()
        loader = threading.Thread(
            target=fetch_json,
            kwargs=dict(
                base=base,
                paths=[probe_path(run)] * run.requests,
                concurrency=run.concurrency,
                deadline_s=RUN_DEADLINE_S,
                on_result=on_result,
            ),
        )
        loader.start()
        while loader.is_alive():
            loader.join(FLUSH_EVERY_S)
            with lock:  # copy, then write outside the lock: the load threads wait on it
                progress, snapshot = done, list(results)
            Run.objects.filter(pk=run_id).update(done=progress, results=snapshot)
        elapsed = time.perf_counter() - started
    final = [r for r in results if r is not None]
    Run.objects.filter(pk=run_id).update(
        status=Run.Status.DONE,
        done=len(final),
        results=final,
        summary=summarise(final, elapsed, peak.peak),
        finished=timezone.now(),
    )
    close_old_connections()


def _percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 2)
    return round(statistics.quantiles(values, n=100, method="inclusive")[pct - 1], 2)


def summarise(results: list[dict], elapsed_s: float, peak: int) -> dict[str, Any]:
    ok = [r for r in results if r.get("ok")]
    errors: dict[str, int] = {}
    for r in results:
        if not r.get("ok"):
            kind = (r.get("error") or {}).get("kind", "unknown")
            errors[kind] = errors.get(kind, 0) + 1
    times = [r["ms"] for r in results if r.get("ms")]
    pools = {r["worker_pid"]: r["pool"] for r in ok if r.get("pool")}
    return {
        "requests": len(results),
        "ok": len(ok),
        "errors": len(results) - len(ok),
        "errors_by_kind": errors,
        "distinct_backend_pids": len({r["backend_pid"] for r in ok}),
        "new_backends": sum(1 for r in ok if r.get("new_backend")),
        "worker_pids": sorted({r["worker_pid"] for r in ok}),
        "p50_ms": _percentile(times, 50),
        "p95_ms": _percentile(times, 95),
        "connect_p50_ms": _percentile([r["connect_ms"] for r in ok], 50),
        "req_per_s": round(len(results) / elapsed_s, 1) if elapsed_s > 0 else None,
        "peak_server_connections": peak,
        "pools": {str(pid): stats for pid, stats in pools.items()},
    }


def as_json(run: Run) -> dict[str, Any]:
    return {
        "id": run.pk,
        "strategy": run.strategy,
        "params": run.params,
        "requests": run.requests,
        "concurrency": run.concurrency,
        "hold_ms": run.hold_ms,
        "status": run.status,
        "error": run.error or None,
        "progress": {"done": run.done, "total": run.requests},
        "results": [r for r in run.results if r is not None],
        "summary": run.summary,
    }


def fail_interrupted() -> int:
    """Runs left queued or running by a lab that stopped will never finish."""
    return Run.objects.filter(status__in=[Run.Status.QUEUED, Run.Status.RUNNING]).update(
        status=Run.Status.FAILED,
        error="The lab stopped before this run finished.",
        finished=timezone.now(),
    )


def _hue(index: int) -> int:
    # Golden-angle steps keep neighbouring PIDs' colours far apart.
    return round(index * 137.508) % 360


def view_model(run: Run) -> dict[str, Any]:
    """What the run templates show: results coloured by backend PID."""
    data = as_json(run)
    order: dict[int, int] = {}
    for result in data["results"]:
        pid = result.get("backend_pid")
        if pid is not None:
            order.setdefault(pid, len(order))
    counts: dict[int, int] = {}
    for result in data["results"]:
        pid = result.get("backend_pid")
        result["hue"] = _hue(order[pid]) if pid is not None else None
        if pid is not None:
            counts[pid] = counts.get(pid, 0) + 1
    strategy = strategies.STRATEGIES.get(run.strategy)
    data.update(
        finished=run.finished_running,
        percent=int(100 * run.done / run.requests) if run.requests else 100,
        pids=[{"pid": pid, "hue": _hue(i), "count": counts[pid]} for pid, i in order.items()],
        title=strategy.title if strategy else run.strategy,
        params_text=run.params_text,
        created=run.created,
    )
    return data
