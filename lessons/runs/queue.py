"""The run queue: fair between learners, bounded, and nothing left stuck.

The Run table holds the order; a Django task (django-tasks-db, stored in PostgreSQL)
carries a run to a worker once the dispatcher has chosen it. The dispatcher runs under a
PostgreSQL advisory lock, so site replicas and workers on any machine may all call it:
- one active run per learner, and learners take turns: everyone's first waiting run
  comes before anyone's second;
- a slot is always kept for short runs, so a learner's 10-request run does not wait
  behind other learners' long ones;
- the ASGI demo server and PgBouncer take one run at a time (their budget slices are
  small and a run there uses all of it), and WSGI runs start only while their pools fit
  into the WSGI slice together;
- a running run whose heartbeat stopped (its worker died), or a chosen run no worker
  took, ends `failed` with the reason: no run stays queued or running forever.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from .. import budget, lab, strategies
from ..boundary import TooMany, Unavailable
from ..models import Learner, Run

log = logging.getLogger(__name__)

LOCK_KEY = 0x706F6F6C  # "pool": the dispatcher's advisory lock
UNCLAIMED = timedelta(seconds=60)
LONG_SECONDS = 5
PITFALL_CONNECTIONS = 2
ACTIVE = (Run.Status.QUEUED, Run.Status.RUNNING)


def admit(learner: Learner) -> None:
    """Refuse a run past the learner's own queue or the room's (inside a transaction), or
    while the instructor has paused new runs."""
    from ..room import refuse_if_paused

    refuse_if_paused()
    cfg = lab.config()
    mine = Run.objects.filter(learner=learner, status__in=ACTIVE).count()
    if mine > cfg["MAX_QUEUED_PER_LEARNER"]:
        raise TooMany(
            f"you already have {mine} runs queued or running; wait for one to finish or cancel one",
            field="runs",
            allowed=f"at most {cfg['MAX_QUEUED_PER_LEARNER']} waiting besides a running one",
            retry_after=5,
        )
    waiting = Run.objects.filter(status=Run.Status.QUEUED).count()
    if waiting >= cfg["MAX_QUEUED_RUNS"]:
        raise Unavailable(
            f"{waiting} runs are waiting for the demo servers; try again in a minute",
            field="runs",
            retry_after=30,
        )


def _is_long(run: Run) -> bool:
    return run.kind == Run.Kind.BENCHMARK or run.hold_seconds >= LONG_SECONDS


def _strategies(run: Run) -> list[strategies.Strategy]:
    """The strategies a run uses: one, or a benchmark's list."""
    slugs = run.spec.get("strategies", []) if run.kind == Run.Kind.BENCHMARK else [run.strategy]
    return [strategies.STRATEGIES[s] for s in slugs if s in strategies.STRATEGIES]


def _wsgi_need(run: Run) -> int:
    """Connections per WSGI demo process the run may hold at once."""
    if run.kind == Run.Kind.PITFALL:
        return PITFALL_CONNECTIONS
    if run.server != "wsgi":
        return 0
    if run.kind == Run.Kind.BENCHMARK:
        # One strategy at a time, with its defaults; the last one's close to make room.
        sizes = [s.per_process_max(s.parse({})) for s in _strategies(run) if not s.pgbouncer_mode]
        return max(sizes, default=0)
    strategy = strategies.STRATEGIES.get(run.strategy)
    if strategy is None or strategy.pgbouncer_mode:
        return 0
    return strategy.per_process_max(run.params)


def _behind_pgbouncer(run: Run) -> bool:
    if run.kind == Run.Kind.PITFALL:
        return True
    return any(s.pgbouncer_mode for s in _strategies(run))


def _fits(run: Run, active: list[Run], slots: int) -> bool:
    if _is_long(run) and sum(_is_long(a) for a in active) >= slots - 1:
        return False
    if run.kind == Run.Kind.BENCHMARK and any(a.kind == Run.Kind.BENCHMARK for a in active):
        return False
    if run.server == "asgi" and any(a.server == "asgi" for a in active):
        return False
    if _behind_pgbouncer(run) and any(_behind_pgbouncer(a) for a in active):
        return False
    share = budget.share_per_worker("wsgi")
    return sum(_wsgi_need(a) for a in active) + _wsgi_need(run) <= share


def fair_order(waiting: list[Run]) -> list[Run]:
    """Everyone's first waiting run, then everyone's second...; by age within a round."""
    rounds: dict[int | None, int] = {}
    ranked = []
    for run in sorted(waiting, key=lambda r: r.pk):
        rank = rounds.get(run.learner_id, 0)
        rounds[run.learner_id] = rank + 1
        ranked.append((rank, run.pk, run))
    return [run for _, _, run in sorted(ranked, key=lambda item: item[:2])]


def dispatch() -> list[int]:
    """Hand runs to workers while slots and budget allow; renumber the waiting ones."""
    from ..tasks import execute_run

    chosen: list[int] = []
    slots = lab.config()["MAX_PARALLEL_RUNS"]
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
            reap()
            active = list(Run.objects.filter(status__in=ACTIVE, dispatched__isnull=False))
            waiting = fair_order(
                list(Run.objects.filter(status=Run.Status.QUEUED, dispatched__isnull=True))
            )
            blocked = {run.learner_id for run in active}
            for run in waiting:
                if len(active) >= slots:
                    break
                if run.learner_id in blocked:
                    continue
                # A learner's runs go in order: if this one must wait, so do the later ones.
                blocked.add(run.learner_id)
                if not _fits(run, active, slots):
                    continue
                run.dispatched, run.position = timezone.now(), None
                run.save(update_fields=["dispatched", "position"])
                execute_run.enqueue(run.pk)
                active.append(run)
                chosen.append(run.pk)
            _number([run for run in waiting if run.pk not in chosen])
    except DatabaseError:
        # PostgreSQL restarting: the next call (a poll, a finished run) dispatches.
        log.warning("dispatch deferred: the database is not answering", exc_info=True)
    return chosen


def _number(waiting: list[Run]) -> None:
    changed = []
    for position, run in enumerate(waiting, start=1):
        if run.position != position:
            run.position = position
            changed.append(run)
    if changed:
        Run.objects.bulk_update(changed, ["position"])


def reap() -> int:
    """Fail runs whose worker died or that no worker took (inside the dispatcher's lock)."""
    now = timezone.now()
    count = 0
    # Progress comes four times a second: this long without it, the worker is gone.
    stale = timedelta(seconds=lab.config()["RUN_STALE_SECONDS"])
    for run in Run.objects.filter(status=Run.Status.RUNNING, heartbeat__lt=now - stale):
        seconds = (now - run.heartbeat).total_seconds()
        count += fail(
            run,
            f"The run worker stopped after {run.done} of {run.requests} requests (no sign of "
            f"life for {seconds:.0f} s); the answers it had are kept.",
        )
    unclaimed = Run.objects.filter(status=Run.Status.QUEUED, dispatched__lt=now - UNCLAIMED)
    for run in unclaimed:
        count += fail(
            run,
            f"No run worker took this run within {UNCLAIMED.seconds} s: the lab's run workers "
            "may be stopped. Start the lab again with uv run manage.py tutorial.",
        )
    return count


def fail(run: Run, reason: str) -> int:
    return Run.objects.filter(pk=run.pk, status__in=ACTIVE).update(
        status=Run.Status.FAILED, error=reason, finished=timezone.now(), position=None
    )


def cancel(run: Run) -> Run:
    """Cancel a run: at once while it waits, within seconds while it runs."""
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run.pk)
        if run.finished_running:
            return run
        if run.dispatched is None:
            run.status, run.finished, run.position = Run.Status.CANCELLED, timezone.now(), None
            run.error = "Cancelled before it started."
        run.cancel_requested = True
        run.save(update_fields=["status", "finished", "position", "error", "cancel_requested"])
    dispatch()
    return run


_last_tick = 0.0


def tick() -> None:
    """Dispatch at most once a second per process: called by pages that watch a run."""
    global _last_tick
    now = time.monotonic()
    if now - _last_tick >= 1:
        _last_tick = now
        dispatch()
