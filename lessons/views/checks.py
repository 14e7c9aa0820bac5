"""What a learner's checkpoints and quiz look like: view models and where figures come from.

A checkpoint's measured figure comes from the demo that predicts it:
- the connection-cost demo measures when asked (`learning.cost` records it);
- the sizing calculator works its figure out from the demo's own fields;
- every other demo is a run: the learner's latest finished run of that demo, started
  after the guess, read at the checkpoint's `measure` path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.http import Http404, HttpRequest
from django.utils.dateparse import parse_datetime

from .. import checkpoints, content, lab, learners, progress
from ..boundary import Conflict
from ..demos import Embed
from ..models import Run
from ..runs import present

MEASURED_HERE = {"connection-cost": "cost", "sizing": "sizing"}


@dataclass
class Found:
    lesson: content.Lesson
    checkpoint: checkpoints.Checkpoint
    demo: Embed

    @property
    def source(self) -> str:
        return MEASURED_HERE.get(self.demo.name, "run")


def lesson_or_404(slug: str) -> content.Lesson:
    lesson = content.by_slug().get(slug)
    if lesson is None:
        raise Http404(f"No lesson {slug!r}")
    return lesson


def predicting(lesson: content.Lesson, checkpoint_id: str) -> Embed | None:
    return next((e for e in lesson.embeds if e.options.get("predict") == checkpoint_id), None)


def find(slug: str, checkpoint_id: str) -> Found:
    lesson = lesson_or_404(slug)
    item = checkpoints.find(lesson.checks, checkpoint_id)
    demo = predicting(lesson, checkpoint_id)
    if not isinstance(item, checkpoints.Checkpoint) or demo is None:
        raise Http404(f"No checkpoint {checkpoint_id!r} in lesson {slug!r}")
    return Found(lesson, item, demo)


def question_or_404(slug: str, question_id: str) -> tuple[content.Lesson, checkpoints.Question]:
    lesson = lesson_or_404(slug)
    item = checkpoints.find(lesson.checks, question_id)
    if not isinstance(item, checkpoints.Question):
        raise Http404(f"No question {question_id!r} in lesson {slug!r}")
    return lesson, item


def require_prediction(request: HttpRequest, found: Found) -> dict[str, Any]:
    """The learner's progress, if they have locked in a guess; 409 naming it otherwise."""
    data = progress.of(request)
    entry = progress.answer(data, found.lesson.slug, found.checkpoint.id) or {}
    if "guess" not in entry:
        raise Conflict(
            f"lock in your prediction first: {found.checkpoint.ask}",
            field="prediction",
            allowed=f"a guess for checkpoint {found.checkpoint.id}, sent to "
            f"/lessons/{found.lesson.slug}/checkpoints/{found.checkpoint.id}/predict/",
        )
    return data


# --- Where the figures come from ------------------------------------------------------


def run_figure(checkpoint: checkpoints.Checkpoint, run: Run) -> Any:
    """The measure in a run's JSON; then in its summary and spec, where a kind of run
    (a pitfall's `pitfall.broke_vias`) may keep its own outcome."""
    data = present.as_json(run)
    for place in (data, run.summary or {}, run.spec or {}):
        value = checkpoints.measured_value(checkpoint, place)
        if value is not None:
            return value
    return None


def latest_run(request: HttpRequest, found: Found, since: str | None) -> Run | None:
    learner = learners.current(request)
    if learner is None:
        return None
    runs = Run.objects.filter(
        learner=learner,
        spec__origin__lesson=found.lesson.slug,
        spec__origin__demo=found.demo.anchor,
    )
    started = parse_datetime(since) if since else None
    if started is not None:
        # The guess comes first: a run from before it measured nothing the guess predicted.
        runs = runs.filter(created__gte=started - timedelta(seconds=1))
    return runs.order_by("-id").first()


def sizing_figure(found: Found) -> Any:
    from .. import sizing

    fields = {k: v for k, v in found.demo.options.items() if k != "predict"}
    answer = sizing.size(fields, max_connections=lab.server_facts()["max_connections"])
    return checkpoints.measured_value(found.checkpoint, answer)


def refresh(request: HttpRequest, found: Found, data: dict[str, Any]) -> tuple[dict, str]:
    """Bring a run-measured checkpoint up to date with the learner's latest run of its
    demo. Returns the progress and a note when that run has nothing to show yet."""
    entry = progress.answer(data, found.lesson.slug, found.checkpoint.id) or {}
    if found.source != "run" or "guess" not in entry:
        return data, ""
    run = latest_run(request, found, entry.get("at"))
    if run is None:
        return data, ""
    if not run.finished_running:
        return data, "Your run is going on: its figure appears here when it finishes."
    if run.status != Run.Status.DONE:
        return data, f"Your last run of this demo was {run.status}: run it again to measure."
    value = run_figure(found.checkpoint, run)
    if value is None:
        return data, "This run's result does not hold the figure this checkpoint reads."
    if entry.get("run") != run.pk or entry.get("measured") != value:
        data = progress.record(
            request, found.lesson, found.checkpoint.id, measured=value, run=run.pk
        )
    return data, ""


# --- View models ----------------------------------------------------------------------


def box(found: Found, data: dict[str, Any], note: str = "") -> dict[str, Any]:
    """What the prediction box shows: the question, or the guess, or both figures."""
    checkpoint = found.checkpoint
    entry = progress.answer(data, found.lesson.slug, checkpoint.id) or {}
    measured = entry.get("measured")
    has_measured = "measured" in entry
    return {
        "committed": "guess" in entry,
        "guess": checkpoints.shown(checkpoint, entry.get("guess")),
        "measured": checkpoints.shown(checkpoint, measured) if has_measured else None,
        "has_measured": has_measured,
        "verdict": checkpoints.score(checkpoint, entry.get("guess"), measured),
        "run": entry.get("run"),
        "source": found.source,
        "note": note,
    }


def box_context(found: Found, data: dict[str, Any], note: str = "") -> dict[str, Any]:
    return {
        "lesson": found.lesson,
        "cp": found.checkpoint,
        "demo": found.demo,
        "state": box(found, data, note),
    }


def answered(question: checkpoints.Question, entry: dict[str, Any] | None) -> dict | None:
    """A question once answered: each choice marked as mine and/or the right one."""
    if not entry or "choice" not in entry:
        return None
    choices = [
        {"text": text, "mine": i == entry["choice"], "right": i == question.correct}
        for i, text in enumerate(question.choices)
    ]
    return {"correct": question.is_correct(entry["choice"]), "choices": choices}


def lesson_extras(request: HttpRequest, lesson: content.Lesson) -> dict[str, Any]:
    """This learner's boxes and answered questions on a lesson page (out-of-band swaps)."""
    data = progress.of(request)
    mine = data["answers"].get(lesson.slug, {})
    boxes = []
    for checkpoint in lesson.checks.checkpoints:
        demo = predicting(lesson, checkpoint.id)
        if demo is None or "guess" not in mine.get(checkpoint.id, {}):
            continue
        found = Found(lesson, checkpoint, demo)
        data, note = refresh(request, found, data)
        boxes.append(box_context(found, data, note))
    questions = [
        {"q": q, "answer": answered(q, mine.get(q.id))} for q in lesson.checks.quiz if q.id in mine
    ]
    return {
        "boxes": boxes,
        "questions": questions,
        "completed": lesson.slug in data["completed"],
    }
