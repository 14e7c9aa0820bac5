"""The pitfalls of lesson 7: the JSON API and the lesson demo's form and results page.

Each pitfall is played by a run worker as a run of kind `pitfall`, queued like any run;
the API waits a few seconds for the outcome and otherwise answers 202 with where to
look. The demo's form works without JavaScript (it lands on a results page that
refreshes itself) and with htmx (the results block polls until the run is done).
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from .. import content, learners
from ..boundary import LabError, body_object
from ..models import Run
from ..pitfalls import create, present, registry
from ..pitfalls.paths import VIAS
from . import checks
from .pages import HtmxHttpRequest


@require_GET
def pitfall_list(request: HttpRequest) -> JsonResponse:
    return JsonResponse([p.describe() for p in registry.PITFALLS.values()], safe=False)


def _answer(run: Run, single: bool) -> JsonResponse:
    """200 with the outcome (one via) or the run (several); 202 while it is not done."""
    if not run.finished_running:
        return JsonResponse(present.pending(run), status=202)
    if run.status != Run.Status.DONE:
        raise LabError(
            run.error or f"the pitfall run ended {run.status}",
            status=503,
            extra={"id": run.pk, "url": present.url(run), "status": run.status},
        )
    if single:
        return JsonResponse({**run.results[0], "id": run.pk, "url": present.url(run)})
    return JsonResponse(present.as_json(run))


@require_POST
def pitfall_run(request: HttpRequest, slug: str) -> JsonResponse:
    """POST {via, fix} (one outcome) or {vias: [...] | "all", fix: true | false | "both"}."""
    pitfall = registry.get(slug)
    body = body_object(request)
    vias, fixes = create.plays(body)
    run = create.create(pitfall, vias, fixes, learners.ensure(request))
    return _answer(create.wait(run), single="via" in body)


def _my_pitfall_run(request: HttpRequest, run_id: int) -> Run:
    run = learners.my_run(request, run_id)
    if run.kind != Run.Kind.PITFALL:
        raise Http404(f"run {run_id} is not a pitfall run")
    return run


@require_GET
def pitfall_run_detail(request: HttpRequest, run_id: int) -> JsonResponse:
    return JsonResponse(present.as_json(_my_pitfall_run(request, run_id)))


def _demo(request: HttpRequest) -> dict[str, str] | None:
    """Which lesson demo sent the form (checked, so a forged value names nothing)."""
    lesson, anchor = request.POST.get("lesson", ""), request.POST.get("demo", "")
    if lesson in content.by_slug() and anchor.startswith("demo-") and anchor[5:].isdecimal():
        return {"lesson": lesson, "demo": anchor}
    return None


def _require_prediction(request: HttpRequest, origin: dict[str, str] | None) -> None:
    """A demo that answers a checkpoint runs once the learner has locked in a guess."""
    if origin is None:
        return
    embed = next(
        (e for e in content.by_slug()[origin["lesson"]].embeds if e.anchor == origin["demo"]),
        None,
    )
    if embed is not None and "predict" in embed.options:
        checks.require_prediction(request, checks.find(origin["lesson"], embed.options["predict"]))


@require_POST
def demo_start(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """The lesson demo's form: every via, as written and with the fix."""
    pitfall = registry.get(slug)
    origin = _demo(request)
    _require_prediction(request, origin)
    run = create.create(pitfall, list(VIAS), [False, True], learners.ensure(request), origin)
    if request.htmx:
        return _result(request, run, status=201)
    return HttpResponseRedirect(reverse("demo-pitfall-run", args=[run.pk]))


def _result(request: HtmxHttpRequest, run: Run, status: int = 200) -> HttpResponse:
    """The results block; once the run is done it stops polling and says runDone."""
    context = {"pit": present.view_model(run)}
    if not request.htmx:
        return TemplateResponse(request, "lessons/pitfalls.html", context, status=status)
    response = TemplateResponse(request, "lessons/pitfalls.html#result", context, status=status)
    if run.finished_running:
        response = trigger_client_event(response.render(), "runDone")
    return response


@require_GET
def demo_result(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    return _result(request, _my_pitfall_run(request, run_id))
