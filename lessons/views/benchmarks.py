"""The benchmark lab over HTTP: the JSON API, lesson 11's demo and the benchmark pages.

Views raise lab errors (bad input 400 naming the field, a full queue 429...);
`lessons.boundary` turns each into JSON for the API and a message for the demo.
"""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from .. import learners
from ..benchmarks import present, spec
from ..boundary import NotFound, body_object, form_fields
from ..models import Run
from ..runs import queue
from .pages import HtmxHttpRequest

MINE_SHOWN = 12
ANCHOR = re.compile(r"^demo-\d{1,3}$")


def _my_benchmark(request: HttpRequest, run_id: int) -> Run:
    """A benchmark of this learner's; anyone else's, or a run of another kind, is not found."""
    run = learners.my_run(request, run_id)
    if run.kind != Run.Kind.BENCHMARK:
        raise NotFound(f"run {run_id} is not a benchmark", field="id")
    return run


def _mine(request: HttpRequest):
    learner = learners.current(request)
    if learner is None:
        return Run.objects.none()
    return Run.objects.filter(learner=learner, kind=Run.Kind.BENCHMARK)


@require_http_methods(["GET", "POST"])
def api_benchmarks(request: HttpRequest) -> JsonResponse:
    """GET: my benchmarks, newest first. POST: start one (201 with its URL)."""
    if request.method == "GET":
        return JsonResponse([present.as_json(r) for r in _mine(request)[:MINE_SHOWN]], safe=False)
    run = spec.create(body_object(request), learners.ensure(request))
    return JsonResponse({"id": run.pk, "url": reverse("api-benchmark", args=[run.pk])}, status=201)


@require_GET
def api_benchmark(request: HttpRequest, run_id: int) -> JsonResponse:
    return JsonResponse(present.as_json(_my_benchmark(request, run_id)))


def block(request: HtmxHttpRequest, run: Run, status: int = 200) -> HttpResponse:
    """The live benchmark; once finished it stops polling and tells the page (benchmarkDone)."""
    response = TemplateResponse(
        request,
        "lessons/benchmarks.html#benchmark",
        {"bench": present.view_model(run)},
        status=status,
    )
    if run.finished_running:
        response = trigger_client_event(response.render(), "benchmarkDone")
    return response


@require_POST
def start(request: HtmxHttpRequest) -> HttpResponse:
    body = form_fields(request.POST)
    if "strategies" in request.POST:
        body["strategies"] = request.POST.getlist("strategies")  # one checkbox each
    run = spec.create(body, learners.ensure(request))
    if request.htmx:
        return block(request, run, status=201)
    return HttpResponseRedirect(reverse("benchmark", args=[run.pk]))


@require_GET
def page(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    run = _my_benchmark(request, run_id)
    if request.htmx:
        return block(request, run)
    return TemplateResponse(request, "lessons/benchmarks.html", {"bench": present.view_model(run)})


@require_POST
def cancel(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    run = queue.cancel(_my_benchmark(request, run_id))
    if request.htmx:
        return block(request, run)
    return HttpResponseRedirect(reverse("benchmark", args=[run.pk]))


@require_GET
def mine(request: HtmxHttpRequest) -> TemplateResponse:
    """My benchmarks to pick two from; with `latest`, my newest one, to show it again."""
    anchor = request.GET.get("anchor", "")
    mine = _mine(request)
    if request.GET.get("latest"):
        newest = mine.first()
        context = {"bench": present.view_model(newest) if newest else None}
        return TemplateResponse(request, "lessons/benchmarks.html#latest", context)
    return TemplateResponse(
        request,
        "lessons/benchmarks.html#mine",
        {
            "mine": [present.brief(r) for r in mine[:MINE_SHOWN]],
            "anchor": anchor if ANCHOR.match(anchor) else "benchmarks",
        },
    )


@require_GET
def compare(request: HtmxHttpRequest) -> TemplateResponse:
    """Two of my benchmarks side by side (`?ids=12&ids=15`), and the list to pick them from."""
    mine = _mine(request)
    ids = [int(i) for i in request.GET.getlist("ids") if i.isdecimal() and len(i) < 12][:2]
    found = {r.pk: r for r in mine.filter(pk__in=ids)}
    # The earlier one first: a change reads from the first to the second.
    chosen = sorted(found.values(), key=lambda run: run.pk)
    finished = mine.filter(status__in=[Run.Status.DONE, Run.Status.CANCELLED])
    return TemplateResponse(
        request,
        "lessons/benchmarks.html",
        {
            "view": "compare",
            "table": present.compare(*chosen) if len(chosen) == 2 else None,
            "mine": [present.brief(r) for r in finished[:30]],
            "ids": [str(r.pk) for r in chosen],
        },
    )
