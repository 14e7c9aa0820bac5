"""My progress: the API, the file to take to another browser, and the page that handles it.

`/api/...` answers JSON (errors too, through the error boundary); `/progress/...` are the
page's forms, which answer htmx fragments or, without JavaScript, whole pages.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from .. import content, progress
from ..params import BadInput
from .pages import HtmxHttpRequest

CONFIRM = "reset"


@require_GET
def lessons_api(request: HttpRequest) -> JsonResponse:
    """Every lesson with its checkpoints and quiz; a question's answer is not in it."""
    return JsonResponse(
        [
            {
                "slug": lesson.slug,
                "title": lesson.title,
                "order": lesson.order,
                "minutes": lesson.minutes,
                **lesson.checks.describe(),
            }
            for lesson in content.all_lessons()
        ],
        safe=False,
    )


@require_GET
def progress_api(request: HttpRequest) -> JsonResponse:
    return JsonResponse(progress.as_api(progress.of(request)))


@require_GET
def export(request: HttpRequest) -> JsonResponse:
    """The progress file: import it in another browser to carry on there."""
    response = JsonResponse(progress.export(progress.of(request)), json_dumps_params={"indent": 1})
    name = f"pooling-lab-progress-{timezone.now():%Y-%m-%d}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _uploaded(request: HttpRequest) -> bytes:
    """The file of a form (`file`), or a JSON body sent by a script."""
    if request.content_type == "multipart/form-data":
        upload = request.FILES.get("file")
        if upload is None:
            raise BadInput("file", "choose a progress file to import", "a .json file")
        return upload.read(progress.MAX_FILE_BYTES + 1)
    try:
        return request.body
    except RequestDataTooBig:
        raise BadInput("file", "the file is too big to be a progress file", "up to 64 KB") from None


@require_POST
def import_api(request: HttpRequest) -> JsonResponse:
    progress.replace(request, progress.parse_file(_uploaded(request)))
    return JsonResponse(progress.as_api(progress.of(request)))


def _confirmed(request: HttpRequest) -> None:
    value = request.POST.get("confirm")
    if value is None and request.content_type == "application/json":
        from ..boundary import body_object

        value = body_object(request).get("confirm")
    if value != CONFIRM:
        raise BadInput("confirm", "say you mean it: resetting erases all your progress", CONFIRM)


@require_POST
def reset_api(request: HttpRequest) -> JsonResponse:
    _confirmed(request)
    progress.reset(request)
    return JsonResponse(progress.as_api(progress.of(request)))


# --- The page ----------------------------------------------------------------------------


def _rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for lesson in content.all_lessons():
        mine = data["answers"].get(lesson.slug, {})
        checkpoints = lesson.checks.checkpoints
        quiz = lesson.checks.quiz
        rows.append(
            {
                "lesson": lesson,
                "visited": lesson.slug in data["visited"],
                "completed": lesson.slug in data["completed"],
                "measured": sum(1 for c in checkpoints if "measured" in mine.get(c.id, {})),
                "checkpoints": len(checkpoints),
                "answered": sum(1 for q in quiz if "choice" in mine.get(q.id, {})),
                "right": sum(1 for q in quiz if mine.get(q.id, {}).get("correct")),
                "quiz": len(quiz),
            }
        )
    return rows


def _refusal(exc: BadInput) -> dict[str, str]:
    allowed = exc.allowed
    text = ", ".join(map(str, allowed)) if isinstance(allowed, list) else str(allowed)
    return {"message": exc.message, "field": exc.field or "", "allowed": text}


def _page(request: HtmxHttpRequest, status: int = 200, **extra: Any) -> TemplateResponse:
    data = progress.of(request)
    template = "lessons/progress.html#mine" if request.htmx else "lessons/progress.html"
    context = {"rows": _rows(data), "last": content.by_slug().get(data["last"] or ""), **extra}
    return TemplateResponse(request, template, context, status=status)


@require_GET
def page(request: HtmxHttpRequest) -> TemplateResponse:
    said = {"imported": "Your progress was imported.", "reset": "Your progress was reset."}
    return _page(request, message=said.get(request.GET.get("done", ""), ""))


@require_POST
def import_form(request: HtmxHttpRequest) -> HttpResponse:
    try:
        progress.replace(request, progress.parse_file(_uploaded(request)))
    except BadInput as exc:
        # The page again, with what is wrong with the file next to the form.
        return _page(request, status=400, import_error=_refusal(exc))
    if request.htmx:
        return _page(request, message="Your progress was imported.")
    return HttpResponseRedirect(reverse("progress") + "?done=imported")


@require_POST
def reset_form(request: HtmxHttpRequest) -> HttpResponse:
    try:
        _confirmed(request)
    except BadInput as exc:
        return _page(request, status=400, reset_error=_refusal(exc))
    progress.reset(request)
    if request.htmx:
        return _page(request, message="Your progress was reset.")
    return HttpResponseRedirect(reverse("progress") + "?done=reset")
