"""The room, as its instructor sees it: who is here, how far they got, what they predicted,
what the lab holds; and the instructor's switches (pause new runs, reset the room)."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from typing import Any

from django.db import connection
from django.db.models import F
from django.utils import timezone

from . import content, faults, monitor
from .boundary import Conflict
from .models import Learner, Room, Run
from .runs import queue

ACTIVE = timedelta(minutes=5)
_paused_cache: tuple[float, bool] = (0.0, False)


def paused() -> bool:
    """Whether new runs are paused, read at most once a second per process."""
    global _paused_cache
    read_at, value = _paused_cache
    if time.monotonic() - read_at > 1:
        value = Room.objects.filter(pk=1, paused=True).exists()
        _paused_cache = (time.monotonic(), value)
    return value


def refuse_if_paused() -> None:
    if paused():
        raise Conflict(
            "the instructor has paused new runs for a moment; try again when they say so",
            field="runs",
        )


def set_paused(value: bool) -> None:
    global _paused_cache
    Room.objects.update_or_create(pk=1, defaults={"paused": value})
    _paused_cache = (time.monotonic(), value)


def _histogram(values: list[Any]) -> list[dict[str, Any]]:
    counts = Counter(str(v) for v in values)
    top = max(counts.values(), default=1)
    return [
        {"value": value, "count": n, "percent": round(100 * n / top)}
        for value, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:8]
    ]


def _lesson_rows(learners: list[Learner]) -> list[dict[str, Any]]:
    rows = []
    for lesson in content.all_lessons():
        answers = [learner.progress.get("answers", {}).get(lesson.slug, {}) for learner in learners]
        checkpoints = [
            {
                "id": checkpoint.id,
                "ask": checkpoint.ask,
                "guesses": _histogram([a[checkpoint.id]["guess"] for a in answers
                                       if "guess" in a.get(checkpoint.id, {})]),
                "measured": _histogram([a[checkpoint.id]["measured"] for a in answers
                                        if "measured" in a.get(checkpoint.id, {})]),
            }
            for checkpoint in lesson.checks.checkpoints
        ]  # fmt: skip
        quiz = [
            {
                "id": question.id,
                "answered": sum(1 for a in answers if "choice" in a.get(question.id, {})),
                "correct": sum(1 for a in answers if a.get(question.id, {}).get("correct")),
            }
            for question in lesson.checks.quiz
        ]
        progress = [learner.progress for learner in learners]
        rows.append(
            {
                "slug": lesson.slug,
                "title": lesson.title,
                "order": lesson.order,
                "visited": sum(1 for p in progress if lesson.slug in p.get("visited", [])),
                "completed": sum(1 for p in progress if lesson.slug in p.get("completed", [])),
                "checkpoints": checkpoints,
                "quiz": quiz,
            }
        )
    return rows


def overview() -> dict[str, Any]:
    """Everything the instructor's page shows, as plain data (also GET /api/room)."""
    since = timezone.now() - ACTIVE
    active = list(Learner.objects.filter(last_seen__gte=since).only("key", "progress"))
    waiting = Run.objects.filter(status__in=queue.ACTIVE).select_related("learner")
    snapshot = monitor.snapshot(None)
    return {
        "paused": paused(),
        "learners": {"total": Learner.objects.count(), "active": len(active)},
        "lessons": _lesson_rows(active),
        "queue": [
            {
                "id": run.pk,
                "learner": run.learner.tag if run.learner else None,
                "kind": run.kind,
                "strategy": run.strategy,
                "status": run.status,
                "position": run.position,
                "done": run.done,
                "total": run.requests,
            }
            for run in waiting.order_by("position", "id")[:50]
        ],
        "connections": {
            "open": len(snapshot["rows"]),
            "by_strategy": snapshot["counts"],
            "budget": snapshot["budget"],
            "max_connections": snapshot["max_connections"],
        },
    }


def reset() -> dict[str, int]:
    """Cancel every run, give every learner new connections: progress stays."""
    cancelled = 0
    for run in Run.objects.filter(status__in=queue.ACTIVE):
        queue.cancel(run)
        cancelled += 1
    Learner.objects.update(epoch=F("epoch") + 1, epochs={})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pooling-lab:%%:%%'"
            " AND usename = ANY(%s) AND pg_terminate_backend(pid, 2000)",
            [faults.demo_roles()],
        )
        closed = cursor.fetchone()[0]
    return {"cancelled": cancelled, "closed": closed}
