"""Endpoints behind the demos embedded in lessons (htmx partials, plain pages without JS)."""

from __future__ import annotations

import psycopg
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from .. import budget, cost, errors, monitor, runs, strategies
from ..http import form_to_run
from ..models import Run
from ..params import BadInput
from .pages import HtmxHttpRequest, run_partial


@require_GET
def connection_cost(request: HtmxHttpRequest) -> TemplateResponse:
    try:
        samples = cost.SAMPLES.parse(request.GET.get("samples"))
    except BadInput as exc:
        return TemplateResponse(
            request, "lessons/demo_page.html#cost-result", {"error": exc.error}, status=400
        )
    template = "lessons/demo_page.html#cost-result" if request.htmx else "lessons/demo_page.html"
    try:
        measured = cost.measure(samples)
    except psycopg.Error as exc:
        kind = errors.classify(exc)
        return TemplateResponse(
            request, template, {"error": f"{kind.title}: {exc}"}, status=kind.status
        )
    return TemplateResponse(request, template, {"cost": measured, "demo": "cost"})


@require_POST
def run_start(request: HtmxHttpRequest) -> HttpResponse:
    try:
        run = runs.create(form_to_run(request.POST))
    except BadInput as exc:
        error, status = f"{exc.field}: {exc.error} (allowed: {exc.allowed})", 400
    except budget.OverBudget as exc:
        error, status = str(exc), 409
    except strategies.UnknownStrategy as exc:
        error, status = f"strategy: there is no strategy {exc.args[0]!r}", 404
    except (strategies.Unavailable, runs.LabQueueFull) as exc:
        error, status = str(exc), 409
    else:
        if request.htmx:
            return run_partial(request, run, status=201)
        return HttpResponseRedirect(reverse("run", args=[run.pk]))
    return TemplateResponse(request, "lessons/run.html#run-error", {"error": error}, status=status)


@require_GET
def recent_runs(request: HtmxHttpRequest, slug: str) -> TemplateResponse:
    items = Run.objects.filter(strategy=slug, status=Run.Status.DONE)[:8]
    return TemplateResponse(
        request, "lessons/demos.html#recent-runs", {"recent": items, "slug": slug}
    )


@require_POST
def terminate(request: HtmxHttpRequest) -> HttpResponse:
    slug = request.POST.get("strategy", "")
    strategy = strategies.STRATEGIES.get(slug)
    if strategy is None:
        return TemplateResponse(
            request,
            "lessons/demos.html#terminated",
            {"error": f"strategy: there is no strategy {slug!r}"},
            status=404,
        )
    killed = monitor.terminate(strategy)
    context = {"killed": killed, "strategy": strategy}
    if request.htmx:
        return TemplateResponse(request, "lessons/demos.html#terminated", context)
    return TemplateResponse(request, "lessons/demo_page.html", {**context, "demo": "terminate"})
