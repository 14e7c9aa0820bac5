"""Endpoints behind the demos embedded in lessons: htmx partials, plain pages without JS."""

from __future__ import annotations

import psycopg
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from .. import bouncer_view, content, cost, errors, faults, lab, learners, monitor, strategies
from ..boundary import LabError, form_fields
from ..models import Run
from ..runs import create
from .pages import HtmxHttpRequest, run_partial


@require_GET
def connection_cost(request: HtmxHttpRequest) -> TemplateResponse:
    samples = cost.SAMPLES.parse(request.GET.get("samples"))
    template = "lessons/demo_page.html#cost-result" if request.htmx else "lessons/demo_page.html"
    try:
        measured = cost.measure(samples)
    except psycopg.Error as exc:
        kind = errors.classify(exc)
        raise LabError(f"{kind.title}: {exc}", status=kind.status) from exc
    return TemplateResponse(request, template, {"cost": measured, "demo": "cost"})


def _origin(body: dict) -> dict[str, str] | None:
    """Which lesson demo sent the form (checked, so a forged value only names nothing)."""
    lesson, demo = str(body.pop("lesson", "")), str(body.pop("demo", ""))
    label = str(body.pop("label", ""))[:80]
    if lesson in content.by_slug() and demo.startswith("demo-") and demo[5:].isdecimal():
        return {"lesson": lesson, "demo": demo, "label": label}
    return None


@require_POST
def run_start(request: HtmxHttpRequest) -> HttpResponse:
    body = form_fields(request.POST)
    origin = _origin(body)
    run = create.create(body, learners.ensure(request), origin)
    if request.htmx:
        return run_partial(request, run, status=201)
    return HttpResponseRedirect(reverse("run", args=[run.pk]))


@require_GET
def recent_runs(request: HtmxHttpRequest, slug: str) -> TemplateResponse:
    learner = learners.current(request)
    items = (
        Run.objects.filter(learner=learner, strategy=slug, status=Run.Status.DONE)[:8]
        if learner
        else []
    )
    return TemplateResponse(
        request, "lessons/demos.html#recent-runs", {"recent": items, "slug": slug}
    )


@require_POST
def terminate(request: HtmxHttpRequest) -> HttpResponse:
    strategy = strategies.get(request.POST.get("strategy", ""))
    killed = faults.terminate(strategy, learners.ensure(request).tag)
    context = {"killed": killed, "strategy": strategy}
    if request.htmx:
        return TemplateResponse(request, "lessons/demos.html#terminated", context)
    return TemplateResponse(request, "lessons/demo_page.html", {**context, "demo": "terminate"})


@require_POST
def reset(request: HtmxHttpRequest) -> HttpResponse:
    killed = faults.reset(learners.ensure(request))
    if request.htmx:
        return TemplateResponse(request, "lessons/demos.html#reset-done", {"killed": killed})
    return HttpResponseRedirect(reverse("index"))


@require_GET
def pgbouncer_panel(request: HtmxHttpRequest) -> TemplateResponse:
    """PgBouncer's pools and the picture of its clients and servers, polled every second."""
    sample = monitor.latest()
    context = {
        "bouncer": lab.pgbouncer(),
        "picture": bouncer_view.picture(
            sample.pgbouncer if sample else None, learners.tag_of(request)
        ),
    }
    template = "lessons/pgbouncer.html#panel" if request.htmx else "lessons/pgbouncer.html"
    return TemplateResponse(request, template, context)
