"""The pages a learner reads: index, lessons, runs, comparison, monitor."""

from __future__ import annotations

from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event
from django_htmx.middleware import HtmxDetails

from .. import body, content, learners, monitor, progress, strategies
from ..models import Run
from ..runs import present, queue
from . import checks, picture, see_boxes


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


@require_GET
def index(request: HtmxHttpRequest) -> TemplateResponse:
    lessons = content.all_lessons()
    mine = progress.of(request)
    done = set(mine["completed"])
    return TemplateResponse(
        request,
        "lessons/index.html",
        {
            "lessons": lessons,
            "visited": set(mine["visited"]),
            "completed": done,
            "done_count": sum(1 for lesson in lessons if lesson.slug in done),
            "last": content.by_slug().get(mine["last"] or ""),
            "strategies": strategies.STRATEGIES.values(),
        },
    )


def _lesson_or_404(slug: str) -> content.Lesson:
    lesson = content.by_slug().get(slug)
    if lesson is None:
        raise Http404(f"No lesson {slug!r}")
    return lesson


@require_GET
def lesson(request: HtmxHttpRequest, slug: str) -> TemplateResponse:
    item = _lesson_or_404(slug)
    progress.mark_visited(request, slug)
    previous, following = content.neighbours(slug)
    done = progress.completed(request)
    return TemplateResponse(
        request,
        "lessons/lesson.html",
        {
            "lesson": item,
            "body": see_boxes.collapse(body.body_html(request, slug), item),
            "lessons": content.all_lessons(),
            "previous": previous,
            "next": following,
            "completed": slug in done,
            "done": done,
        },
    )


@require_GET
def lesson_state(request: HtmxHttpRequest, slug: str) -> TemplateResponse:
    """My latest run of each demo on the page (htmx out-of-band swaps): a run still going
    on when I come back to the page is shown again, and keeps its button disabled."""
    item = _lesson_or_404(slug)
    learner = learners.current(request)
    latest = {}
    if learner is not None:
        for run in Run.objects.filter(learner=learner, spec__origin__lesson=slug)[:50]:
            latest.setdefault(run.spec["origin"]["demo"], run)
    shown = [_shown(embed.anchor, latest[embed.anchor]) for embed in item.embeds
             if embed.anchor in latest]  # fmt: skip
    extras = checks.lesson_extras(request, item)
    return TemplateResponse(
        request,
        "lessons/lesson.html#lesson-state",
        {"shown": shown, "extras": extras, "lesson": item},
    )


def _shown(anchor: str, run: Run) -> dict:
    if run.kind == Run.Kind.PITFALL:
        from ..pitfalls import present as pitfall

        return {"anchor": anchor, "pit": pitfall.view_model(run)}
    return {"anchor": anchor, "run": picture.run_view(run)}


@require_POST
def complete(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    item = _lesson_or_404(slug)
    done = request.POST.get("done", "true") != "false"
    progress.set_completed(request, slug, done)
    if request.htmx:
        return TemplateResponse(
            request,
            "lessons/lesson.html#complete-response",
            {"lesson": item, "item": item, "completed": done, "oob": False},
        )
    return HttpResponseRedirect(reverse("lesson", args=[slug]))


@require_GET
def run_page(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    run = learners.my_run(request, run_id)
    if not request.htmx:
        return TemplateResponse(request, "lessons/run.html", {"run": picture.run_view(run)})
    return run_partial(request, run)


def run_partial(request: HtmxHttpRequest, run: Run, status: int = 200) -> HttpResponse:
    """The live run block; once done it stops polling and tells the page (runDone)."""
    response = TemplateResponse(
        request, "lessons/run.html#run", {"run": picture.run_view(run)}, status=status
    )
    if run.finished_running:
        response = trigger_client_event(response.render(), "runDone")
    return response


@require_POST
def run_cancel(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    run = queue.cancel(learners.my_run(request, run_id))
    if request.htmx:
        return run_partial(request, run)
    return HttpResponseRedirect(reverse("run", args=[run.pk]))


@require_GET
def compare(request: HtmxHttpRequest) -> TemplateResponse:
    learner = learners.current(request)
    mine = Run.objects.filter(learner=learner, kind=Run.Kind.RUN) if learner else Run.objects.none()
    ids = [int(i) for i in request.GET.getlist("ids") if i.isdecimal() and len(i) < 12][:4]
    found = {r.pk: r for r in mine.filter(pk__in=ids)}
    chosen = [found[i] for i in ids if i in found]
    return TemplateResponse(
        request,
        "lessons/compare.html",
        {
            "table": present.compare(chosen),
            "recent": mine.filter(status=Run.Status.DONE)[:30],
            "ids": [str(r.pk) for r in chosen],
        },
    )


@require_GET
def monitor_page(request: HtmxHttpRequest) -> TemplateResponse:
    scope = "all" if request.GET.get("scope") == "all" else "mine"
    owner = None if scope == "all" else (learners.tag_of(request) or "-")
    template = "lessons/monitor.html#monitor" if request.htmx else "lessons/monitor.html"
    return TemplateResponse(
        request,
        template,
        {"snapshot": monitor.snapshot(owner), "chart": monitor.chart(owner), "scope": scope},
    )


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """For the container and load balancers: the site answers and its database does."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return JsonResponse({"ok": False, "database": "down"}, status=503)
    return JsonResponse({"ok": True, "database": "up"})
