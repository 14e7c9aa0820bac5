"""Predict, then run; then the quiz. Every answer is checked and saved on the server.

A demo that predicts a checkpoint runs only once the learner has locked in a guess: its
form posts here (`run`, `cost`), and a run without a guess is refused (409). The guess
box then shows the measured figure beside the guess. Quiz answers are checked here: the
right choice is in a page only once the learner has answered.
"""

from __future__ import annotations

from urllib.parse import urlparse

import psycopg
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from .. import checkpoints, content, cost, errors, lab, progress
from ..boundary import LabError, NotFound
from ..params import BadInput
from . import checks, demos
from .pages import HtmxHttpRequest

BOX = "lessons/learning.html#predict-response"
QUESTION = "lessons/learning.html#question-response"


def _on_lesson_page(request: HtmxHttpRequest, slug: str) -> bool:
    """Whether the page that asked is the lesson itself (so its other parts can follow)."""
    current = request.htmx.current_url if request.htmx else None
    return bool(current) and urlparse(current).path == reverse("lesson", args=[slug])


def _box(
    request: HtmxHttpRequest, found: checks.Found, data: dict, note: str = "", **extra: object
) -> TemplateResponse:
    context = {
        **checks.box_context(found, data, note),
        "completed": found.lesson.slug in data["completed"],
        "follow": _on_lesson_page(request, found.lesson.slug),
        **extra,
    }
    status = 400 if "error" in extra else 200
    if request.htmx:
        return TemplateResponse(request, BOX, context, status=status)
    page = {**context, "predicted": context["state"]["committed"], "lab": lab.config()}
    return TemplateResponse(request, "lessons/checkpoint.html", page, status=status)


@require_GET
def checkpoint(request: HtmxHttpRequest, slug: str, checkpoint_id: str) -> HttpResponse:
    """The box, brought up to date with my latest run of its demo (htmx asks when a run
    finishes); without JavaScript, a page with the question and the demo to run."""
    found = checks.find(slug, checkpoint_id)
    data, note = checks.refresh(request, found, progress.of(request))
    return _box(request, found, data, note)


@require_POST
def predict(request: HtmxHttpRequest, slug: str, checkpoint_id: str) -> HttpResponse:
    found = checks.find(slug, checkpoint_id)
    data = progress.of(request)
    if "guess" not in (progress.answer(data, slug, checkpoint_id) or {}):
        try:
            guess = checkpoints.parse_guess(found.checkpoint, request.POST.get("guess", ""))
        except BadInput as exc:
            return _box(request, found, data, error=exc.message, allowed=exc.allowed)
        data = progress.record(request, found.lesson, checkpoint_id, guess=guess, at=progress.now())
    # A guess, once locked in, stays: the point is to commit before seeing the figure.
    if request.htmx:
        return _box(request, found, data)
    return HttpResponseRedirect(reverse("checkpoint", args=[slug, checkpoint_id]))


@require_POST
def run(request: HtmxHttpRequest, slug: str, checkpoint_id: str) -> HttpResponse:
    """The demo's run, once there is a guess to hold it against."""
    checks.require_prediction(request, checks.find(slug, checkpoint_id))
    return demos.run_start(request)


@require_POST
def measure_cost(request: HtmxHttpRequest, slug: str, checkpoint_id: str) -> HttpResponse:
    """The connection-cost demo, measured for a checkpoint: the figure is kept with the guess."""
    found = checks.find(slug, checkpoint_id)
    checks.require_prediction(request, found)
    samples = cost.SAMPLES.parse(request.POST.get("samples"))
    try:
        measured = cost.measure(samples)
    except psycopg.Error as exc:
        kind = errors.classify(exc)
        raise LabError(f"{kind.title}: {exc}", status=kind.status) from exc
    value = checkpoints.measured_value(found.checkpoint, measured)
    data = progress.record(request, found.lesson, checkpoint_id, measured=value, run=None)
    context = {"cost": measured, "demo_name": "cost"}
    if request.htmx:
        box = checks.box_context(found, data)
        extra = {"completed": slug in data["completed"], "follow": _on_lesson_page(request, slug)}
        return TemplateResponse(
            request, "lessons/learning.html#cost-response", {**context, **box, **extra}
        )
    return _box(request, found, data, cost_result=measured)


@require_POST
def measure(request: HtmxHttpRequest, slug: str, checkpoint_id: str) -> HttpResponse:
    """A figure the lab works out rather than runs (the sizing calculator's total)."""
    found = checks.find(slug, checkpoint_id)
    data = checks.require_prediction(request, found)
    if found.source != "sizing":
        raise NotFound(f"checkpoint {checkpoint_id} is measured by running its demo")
    value = checks.sizing_figure(found)
    if value is not None:
        data = progress.record(request, found.lesson, checkpoint_id, measured=value, run=None)
    if request.htmx:
        return _box(request, found, data)
    return HttpResponseRedirect(reverse("checkpoint", args=[slug, checkpoint_id]))


def _answered(
    request: HttpRequest, lesson: content.Lesson, question: checkpoints.Question, data: dict
) -> tuple[dict, str]:
    """Record the learner's first answer to a question; later ones change nothing."""
    if "choice" in (progress.answer(data, lesson.slug, question.id) or {}):
        return data, ""
    raw = request.POST.get("choice", "")
    if not (raw.isdecimal() and int(raw) < len(question.choices)):
        return data, "Pick one of the choices, then check it."
    choice = int(raw)
    correct = question.is_correct(choice)
    data = progress.record(
        request, lesson, question.id, choice=choice, correct=correct, at=progress.now()
    )
    return data, ""


@require_POST
def answer(request: HtmxHttpRequest, slug: str, question_id: str) -> HttpResponse:
    lesson, question = checks.question_or_404(slug, question_id)
    data, error = _answered(request, lesson, question, progress.of(request))
    context = {
        "lesson": lesson,
        "q": question,
        "answer": checks.answered(question, progress.answer(data, slug, question_id)),
        "completed": slug in data["completed"],
        "follow": _on_lesson_page(request, slug),
        "error": error,
    }
    status = 400 if error else 200
    if request.htmx:
        return TemplateResponse(request, QUESTION, context, status=status)
    # Without JavaScript: the question, answered (or asked again), on a page of its own.
    return TemplateResponse(request, "lessons/question.html", context, status=status)
