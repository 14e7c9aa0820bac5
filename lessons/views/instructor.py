"""The instructor's view of the room: behind a token of the lab's (403 otherwise).

`manage.py tutorial` prints where the token is (or POOLING_LAB_INSTRUCTOR_TOKEN sets it);
signing in keeps a flag in the instructor's own session.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .. import learners, room
from ..boundary import LabError


def _instructor(request: HttpRequest) -> None:
    if not learners.is_instructor(request):
        raise LabError(
            "this page is the instructor's: sign in with the lab's instructor token at "
            + reverse("instructor-login"),
            field="instructor",
            status=403,
        )


@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        token = request.POST.get("token", "")
        expected = settings.LAB["INSTRUCTOR_TOKEN"]
        if expected and secrets.compare_digest(token.encode(), expected.encode()):
            request.session.cycle_key()  # a new session id for the new privilege
            request.session["instructor"] = True
            return HttpResponseRedirect(reverse("instructor"))
        raise LabError("that is not the lab's instructor token", field="token", status=403)
    return TemplateResponse(request, "lessons/instructor_login.html", {})


@require_GET
def dashboard(request: HttpRequest) -> TemplateResponse:
    _instructor(request)
    projector = request.GET.get("projector") == "1"
    template = "lessons/instructor.html#room" if request.htmx else "lessons/instructor.html"
    return TemplateResponse(request, template, {"room": room.overview(), "projector": projector})


@require_GET
def room_api(request: HttpRequest) -> JsonResponse:
    _instructor(request)
    return JsonResponse(room.overview())


@require_POST
def pause(request: HttpRequest) -> HttpResponse:
    _instructor(request)
    room.set_paused(request.POST.get("paused") == "true")
    return HttpResponseRedirect(reverse("instructor"))


@require_POST
def reset(request: HttpRequest) -> HttpResponse:
    _instructor(request)
    if request.POST.get("confirm") != "reset":
        raise LabError("type reset to confirm", field="confirm", allowed="reset")
    done = room.reset()
    if request.content_type == "application/json" or request.path.startswith("/api/"):
        return JsonResponse(done)
    return HttpResponseRedirect(reverse("instructor"))
