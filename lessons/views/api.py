"""The JSON API of DESIGN.md: the UI, workshop scripts and the tests all use it."""

from __future__ import annotations

import psycopg
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from .. import aliases, budget, cost, errors, lab, monitor, probe, runs, strategies
from ..http import conflict, from_bad_input, json_body, not_found, over_budget
from ..models import Run
from ..params import BadInput


@require_GET
def strategy_list(request: HttpRequest) -> JsonResponse:
    return JsonResponse([s.describe() for s in strategies.STRATEGIES.values()], safe=False)


@require_GET
def lab_info(request: HttpRequest) -> JsonResponse:
    cfg = lab.config()
    return JsonResponse(
        {
            "wsgi": {
                "server": "gunicorn (gthread)",
                "workers": cfg["WSGI_WORKERS"],
                "threads": cfg["WSGI_THREADS"],
                "url": cfg["WSGI_URL"],
            },
            "asgi": None,
            "postgres": lab.server_facts(),
            "pgbouncer": None,
            "connection_budget": lab.connection_budget(),
            "demo_role": cfg["DEMO_ROLE"] or None,
            "runs": {
                "max_requests": cfg["MAX_RUN_REQUESTS"],
                "max_concurrency": cfg["MAX_RUN_CONCURRENCY"],
                "parallel": cfg["MAX_PARALLEL_RUNS"],
            },
        }
    )


@require_GET
def probe_view(request: HttpRequest, slug: str) -> JsonResponse:
    try:
        strategy = strategies.get(slug)
    except strategies.UnknownStrategy:
        return not_found(f"strategy {slug!r}", sorted(strategies.STRATEGIES))
    if reason := strategy.unavailable():
        return conflict(reason)
    raw = request.GET.dict()
    try:
        hold_ms = runs.HOLD.parse(raw.pop("hold_ms", None))
        params = strategy.parse(raw)
        budget.check_choice(strategy, params)
    except BadInput as exc:
        return from_bad_input(exc)
    except budget.OverBudget as exc:
        return over_budget(exc)
    try:
        with aliases.checkout(strategy, params) as alias:
            result = probe.measure(alias, slug, hold_ms)
    except aliases.LabBusy as exc:
        return conflict(str(exc))
    status = errors.BY_KIND[result["error"]["kind"]].status if "error" in result else 200
    return JsonResponse(result, status=status)


@require_POST
def run_create(request: HttpRequest) -> JsonResponse:
    try:
        run = runs.create(json_body(request))
    except BadInput as exc:
        return from_bad_input(exc)
    except budget.OverBudget as exc:
        return over_budget(exc)
    except strategies.UnknownStrategy as exc:
        return not_found(f"strategy {exc.args[0]!r}", sorted(strategies.STRATEGIES))
    except (strategies.Unavailable, runs.LabQueueFull) as exc:
        return conflict(str(exc))
    url = reverse("api-run", args=[run.pk])
    return JsonResponse({"id": run.pk, "url": url}, status=201)


@require_GET
def run_detail(request: HttpRequest, run_id: int) -> JsonResponse:
    run = Run.objects.filter(pk=run_id).first()
    if run is None:
        return JsonResponse(
            {
                "error": f"run {run_id} does not exist",
                "field": "id",
                "allowed": "the id of a stored run",
            },
            status=404,
        )
    return JsonResponse(runs.as_json(run))


@require_GET
def connection_cost(request: HttpRequest) -> JsonResponse:
    try:
        samples = cost.SAMPLES.parse(request.GET.get("samples"))
    except BadInput as exc:
        return from_bad_input(exc)
    try:
        return JsonResponse(cost.measure(samples))
    except psycopg.Error as exc:
        return cost_failed(exc)


def cost_failed(exc: Exception) -> JsonResponse:
    """The server refused connections (the demo role's limit, a full server): a result."""
    kind = errors.classify(exc)
    return JsonResponse(
        {"error": {"kind": kind.kind, "title": kind.title, "message": str(exc)}}, status=kind.status
    )


@require_GET
def connection_list(request: HttpRequest) -> JsonResponse:
    return JsonResponse(monitor.snapshot())


@require_POST
def connection_terminate(request: HttpRequest) -> JsonResponse:
    """Kill one strategy's demo backends (lesson 9: what health checks are for)."""
    try:
        body = json_body(request)
        slug = body.get("strategy") if isinstance(body, dict) else None
        if not isinstance(slug, str):
            raise BadInput("strategy", "strategy is required", sorted(strategies.STRATEGIES))
        strategy = strategies.get(slug)
    except BadInput as exc:
        return from_bad_input(exc)
    except strategies.UnknownStrategy:
        return not_found(f"strategy {slug!r}", sorted(strategies.STRATEGIES))
    return JsonResponse({"strategy": slug, "terminated": monitor.terminate(strategy)})


def api_not_found(request: HttpRequest, path: str) -> JsonResponse:
    return JsonResponse(
        {
            "error": f"/api/{path} is not part of the API",
            "field": "path",
            "allowed": ["strategies", "lab", "runs", "connection-cost", "connections"],
        },
        status=404,
    )


@require_GET
def bare(request: HttpRequest) -> JsonResponse:
    """The benchmark's baseline: the probe's query on a statically configured pool."""
    with connections["bare"].cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), pg_sleep(%s)", [0])
        pid = cursor.fetchone()[0]
    return JsonResponse({"backend_pid": pid})
