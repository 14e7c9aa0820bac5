"""The pages a learner reads: index, lessons, runs, comparison, monitor."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event
from django_htmx.middleware import HtmxDetails

from .. import body, content, monitor, progress, runs, strategies
from ..models import Run


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


@require_GET
def index(request: HtmxHttpRequest) -> TemplateResponse:
    lessons = content.all_lessons()
    done = progress.completed(request)
    return TemplateResponse(
        request,
        "lessons/index.html",
        {
            "lessons": lessons,
            "visited": progress.visited(request),
            "completed": done,
            "done_count": sum(1 for lesson in lessons if lesson.slug in done),
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
    return TemplateResponse(
        request,
        "lessons/lesson.html",
        {
            "lesson": item,
            "body": body.body_html(request, slug),
            "lessons": content.all_lessons(),
            "previous": previous,
            "next": following,
            "completed": slug in progress.completed(request),
        },
    )


@require_POST
def complete(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    item = _lesson_or_404(slug)
    done = request.POST.get("done", "true") != "false"
    progress.set_completed(request, slug, done)
    if request.htmx:
        return TemplateResponse(
            request,
            "lessons/lesson.html#complete-form",
            {"lesson": item, "completed": done},
        )
    return HttpResponseRedirect(reverse("lesson", args=[slug]))


@require_GET
def run_page(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    run = Run.objects.filter(pk=run_id).first()
    if run is None:
        raise Http404(f"No run {run_id}")
    if not request.htmx:
        return TemplateResponse(request, "lessons/run.html", {"run": runs.view_model(run)})
    return run_partial(request, run)


def run_partial(request: HtmxHttpRequest, run: Run, status: int = 200) -> HttpResponse:
    """The live run block; once done it stops polling and tells the page (runDone)."""
    response = TemplateResponse(
        request, "lessons/run.html#run", {"run": runs.view_model(run)}, status=status
    )
    if run.finished_running:
        response = trigger_client_event(response.render(), "runDone")
    return response


@require_GET
def compare(request: HtmxHttpRequest) -> TemplateResponse:
    ids = [i for i in request.GET.getlist("ids") if i.isdecimal() and len(i) < 12][:4]
    found = {r.pk: r for r in Run.objects.filter(pk__in=ids)}
    chosen = [runs.view_model(found[int(i)]) for i in ids if int(i) in found]
    recent = Run.objects.filter(status=Run.Status.DONE)[:20]
    return TemplateResponse(
        request,
        "lessons/compare.html",
        {"runs": chosen, "recent": recent, "ids": [str(r["id"]) for r in chosen]},
    )


@require_GET
def monitor_page(request: HtmxHttpRequest) -> TemplateResponse:
    template = "lessons/monitor.html#monitor" if request.htmx else "lessons/monitor.html"
    return TemplateResponse(
        request, template, {"snapshot": monitor.snapshot(), "chart": monitor.chart()}
    )
