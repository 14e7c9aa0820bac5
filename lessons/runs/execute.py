"""A run worker executes a run: load on a demo server, progress as it goes, a true summary.

This runs inside a run worker (django-tasks-db's `db_worker`), never in the site. Progress
is written four times a second with a heartbeat, so a run whose worker dies is noticed;
writes that meet a restarting PostgreSQL are retried, never fatal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.db import DatabaseError, connections, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from .. import faults, lab, strategies
from ..loadgen import each_worker, fetch_json, get_json
from ..models import Run
from . import queue
from .summary import summarise

log = logging.getLogger(__name__)

RUN_DEADLINE_S = 120
FLUSH_EVERY_S = 0.25


def retrying(write: Callable[[], Any], seconds: float = 30) -> Any:
    """A write that waits out a PostgreSQL restart instead of failing the run."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return write()
        except DatabaseError:
            connections["default"].close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


class Progress:
    """Collects results and writes them, with a heartbeat, from a thread of its own."""

    def __init__(self, run: Run) -> None:
        self.run_id = run.pk
        self.results: list[dict | None] = [None] * run.requests
        self.done = 0
        self.lock = threading.Lock()
        self.cancel = threading.Event()
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"run-{run.pk}", daemon=True)

    def add(self, index: int, result: dict) -> None:
        with self.lock:
            self.results[index] = result
            self.done += 1

    def collected(self) -> list[dict]:
        with self.lock:
            return [r for r in self.results if r is not None]

    def __enter__(self) -> Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._finished.set()
        self._thread.join(10)

    def _loop(self) -> None:
        try:
            while not self._finished.wait(FLUSH_EVERY_S):
                self.flush()
        finally:
            connections.close_all()  # this thread's own connection

    def flush(self) -> None:
        with self.lock:  # copy, then write outside the lock: the load threads wait on it
            done, snapshot = self.done, list(self.results)
        try:
            Run.objects.filter(pk=self.run_id).update(
                done=done, results=snapshot, heartbeat=timezone.now()
            )
            if Run.objects.filter(pk=self.run_id, cancel_requested=True).exists():
                self.cancel.set()
        except DatabaseError:
            connections["default"].close()  # PostgreSQL restarting: next flush retries


def probe_query(run: Run, extra: dict[str, Any] | None = None) -> str:
    query: dict[str, Any] = {k: ("none" if v is None else v) for k, v in run.params.items()}
    if run.learner_id:
        query.update(owner=run.learner.tag, epoch=run.epoch)
    return urlencode({**query, **(extra or {})})


def demo_server_answers(base: str, timeout: float = 20) -> bool:
    """The demo server may still be booting right after the lab starts; give it a moment."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            get_json(f"{base}/healthz")
            return True
        except OSError:
            time.sleep(0.2)
    return False


def _after_stats(base: str, run: Run, worker_pids: set[int]) -> tuple[dict, dict]:
    """From each worker process, once the load is over: its pool as the pool reports it,
    and when connections went away without a request seeing it (for the exact peak)."""
    url = f"{base}/probe/{run.strategy}/stats?{probe_query(run)}"
    pools: dict[str, Any] = {}
    gone: dict[str, float] = {}
    for answer in each_worker(url, len(worker_pids), wanted=worker_pids):
        gone.update(answer.get("gone") or {})
        if answer.get("pool"):
            pools[str(answer["worker_pid"])] = answer["pool"]
    return pools, gone


def _after_asgi(base: str, run: Run) -> None:
    """The lab must not leave a learner's pile-up holding the budget: close it now."""
    strategy = strategies.get(run.strategy)
    try:
        get_json(f"{base}/release/?owner={run.learner.tag}", method="POST")
    except OSError:
        log.warning("run %s: the ASGI demo server did not release its aliases", run.pk)
    faults.terminate(strategy, run.learner.tag)


def run_probes(run: Run) -> None:
    strategy = strategies.get(run.strategy)
    base = lab.server_url(run.server)
    if not demo_server_answers(base):
        raise RunStopped(f"The {run.server.upper()} demo server at {base} is not answering.")
    if run.fresh and run.learner_id:
        faults.close_for_fresh(strategy, run.params, run.learner.tag)
    path = f"/probe/{run.strategy}/?" + probe_query(
        run, {"hold_ms": run.hold_ms, **({"work_ms": run.work_ms} if run.work_ms else {})}
    )
    with Progress(run) as progress:
        started = time.perf_counter()
        fetch_json(
            base,
            [path] * run.requests,
            run.concurrency,
            deadline_s=RUN_DEADLINE_S,
            on_result=progress.add,
            stop=progress.cancel,
        )
        elapsed = time.perf_counter() - started
    results = progress.collected()
    workers = {r["worker_pid"] for r in results if r.get("ok")}
    pools, gone = _after_stats(base, run, workers)
    if run.server == "asgi" and run.learner_id:
        _after_asgi(base, run)
    if run.learner_id:
        faults.release_pinned(strategy, run.params, run.learner)
    summary = summarise(
        results,
        elapsed,
        behind_pgbouncer=bool(strategy.pgbouncer_mode),
        pools=pools,
        gone=gone,
    )
    finish(run, progress, results, summary)


def finish(run: Run, progress: Progress, results: list[dict], summary: dict) -> None:
    """The run's last write: done (or cancelled), everything it collected, its figures."""
    status = Run.Status.CANCELLED if progress.cancel.is_set() else Run.Status.DONE
    retrying(
        lambda: Run.objects.filter(pk=run.pk).update(
            status=status,
            done=len(results),
            results=results,
            summary=summary,
            finished=timezone.now(),
        )
    )


class RunStopped(RuntimeError):
    """A run could not go on; the message is for the learner."""


# What executes each kind of run, by import path (each kind lives in its own module).
EXECUTORS: dict[str, str] = {
    Run.Kind.RUN: "lessons.runs.execute.run_probes",
    Run.Kind.PITFALL: "lessons.pitfalls.execute",
    Run.Kind.BENCHMARK: "lessons.benchmarks.execute",
}


def _claim(run_id: int) -> Run | None:
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != Run.Status.QUEUED:
            return None  # already cancelled, or failed by the reaper
        now = timezone.now()
        if run.cancel_requested:
            run.status, run.finished = Run.Status.CANCELLED, now
        else:
            run.status, run.started, run.heartbeat = Run.Status.RUNNING, now, now
        run.save(update_fields=["status", "started", "heartbeat", "finished"])
    return run if run.status == Run.Status.RUNNING else None


def execute(run_id: int) -> None:
    """The task body: claim the run, execute its kind, end it readably, dispatch the next."""
    try:
        run = retrying(lambda: _claim(run_id))
        if run is not None:
            try:
                import_string(EXECUTORS[run.kind])(run)
            except Exception as exc:
                if not isinstance(exc, RunStopped):
                    log.exception("run %s stopped", run_id)
                reason = (
                    str(exc)
                    if isinstance(exc, RunStopped)
                    else f"The run stopped unexpectedly ({type(exc).__name__}); the answers "
                    "it had are kept."
                )
                retrying(lambda: queue.fail(run, reason))
    finally:
        queue.dispatch()
        # A worker thread is not a request: return its connections itself.
        connections.close_all()
