"""The JSON API of DESIGN.md: the UI, workshop scripts and the tests all use it.

Views raise lab errors; `lessons.boundary` turns each into its JSON answer.
"""

from __future__ import annotations

import psycopg
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .. import cost, errors, faults, lab, learners, monitor, strategies
from ..boundary import LabError, body_object
from ..models import Run
from ..params import BadInput
from ..runs import create, present, queue

MY_RUNS_SHOWN = 50


@require_GET
def strategy_list(request: HttpRequest) -> JsonResponse:
    return JsonResponse([s.describe() for s in strategies.STRATEGIES.values()], safe=False)


@require_GET
def lab_info(request: HttpRequest) -> JsonResponse:
    return JsonResponse(lab.describe())


@require_http_methods(["GET", "POST"])
def runs(request: HttpRequest) -> JsonResponse:
    """GET: my runs, newest first. POST: start one (201 with its URL)."""
    if request.method == "GET":
        learner = learners.current(request)
        mine = Run.objects.filter(learner=learner)[:MY_RUNS_SHOWN] if learner else []
        return JsonResponse([present.brief(run) for run in mine], safe=False)
    run = create.create(body_object(request), learners.ensure(request))
    return JsonResponse({"id": run.pk, "url": present.as_json(run)["url"]}, status=201)


@require_GET
def run_detail(request: HttpRequest, run_id: int) -> JsonResponse:
    return JsonResponse(present.as_json(learners.my_run(request, run_id)))


@require_POST
def run_cancel(request: HttpRequest, run_id: int) -> JsonResponse:
    return JsonResponse(present.brief(queue.cancel(learners.my_run(request, run_id))))


@require_GET
def connection_cost(request: HttpRequest) -> JsonResponse:
    samples = cost.SAMPLES.parse(request.GET.get("samples"))
    try:
        return JsonResponse(cost.measure(samples))
    except psycopg.Error as exc:
        # The server refused connections (the demo role's limit, a full server): a result.
        kind = errors.classify(exc)
        return JsonResponse({"error": kind.result(str(exc))}, status=kind.status)


SCOPES = ("mine", "all")


@require_GET
def connection_list(request: HttpRequest) -> JsonResponse:
    scope = request.GET.get("scope") or "mine"
    if scope not in SCOPES:
        raise BadInput("scope", "scope must be mine or all", list(SCOPES))
    owner = None if scope == "all" else (learners.tag_of(request) or "-")
    return JsonResponse(monitor.snapshot(owner))


@require_POST
def connection_terminate(request: HttpRequest) -> JsonResponse:
    """Kill my backends of one strategy (lesson 9: what health checks are for)."""
    body = body_object(request)
    strategy = strategies.from_field(body.get("strategy"))
    learner = learners.ensure(request)
    return JsonResponse(
        {"strategy": strategy.slug, "terminated": faults.terminate(strategy, learner.tag)}
    )


@require_POST
def lab_reset(request: HttpRequest) -> JsonResponse:
    """Reset my lab: every configuration of mine starts on new connections."""
    learner = learners.ensure(request)
    return JsonResponse({"reset": True, "terminated": faults.reset(learner)})


def api_not_found(request: HttpRequest, path: str) -> JsonResponse:
    raise LabError(
        f"/api/{path} is not part of the API",
        field="path",
        allowed=[
            "strategies",
            "lab",
            "runs",
            "connection-cost",
            "connections",
            "pitfalls",
            "sizing",
            "benchmarks",
            "lessons",
            "progress",
        ],
        status=404,
    )
