"""Failure you can cause: restart PostgreSQL, stop PgBouncer (lesson 9).

Both act on the whole lab, so a shared deployment lets only its instructor use them;
alone with your own lab you may. Each is done by the lab's supervisor, which started
those servers (lessons.services.control).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_POST

from .. import lab, learners
from ..boundary import Conflict, LabError, TooMany
from ..services import control


def _check(request: HttpRequest, action: str) -> None:
    if settings.PRODUCTION and not learners.is_instructor(request):
        raise LabError(
            "on a shared lab only the instructor can do this: it interrupts everyone's demos",
            field="action",
            status=403,
        )
    if control.folder() is None:
        raise Conflict("this lab has no supervisor that could do it", field="action")
    if action == "restart-postgres" and not lab.config()["EMBEDDED_PG"]:
        raise Conflict(
            "this lab uses PostgreSQL from DATABASE_URL, which it does not run: restart that "
            "server yourself (for example pg_ctlcluster 15 main restart)",
            field="action",
        )
    if action == "stop-pgbouncer" and not (lab.pgbouncer() or {}).get("managed"):
        raise Conflict("this lab does not run a PgBouncer of its own", field="action")
    if control.under_way(action):
        raise Conflict(f"{action} is already under way", field="action")
    # Once a minute by default: each one interrupts every demo of the lab.
    every = lab.config()["FAULT_EVERY_SECONDS"]
    done = control.last(action)
    wait = int(every - (time.time() - done["at"])) if done else 0
    if wait > 0:
        raise TooMany(
            f"{action} ran {every - wait} s ago; at most once every {every} s",
            field="action",
            retry_after=wait,
        )


def _request(request: HttpRequest, action: str) -> None:
    _check(request, action)
    try:
        control.request(action)
    except control.AlreadyRequested:
        raise Conflict(f"{action} is already under way", field="action") from None


@require_POST
def restart_postgres(request: HttpRequest) -> JsonResponse:
    _request(request, "restart-postgres")
    return JsonResponse({"action": "restart-postgres", "status": "requested"}, status=202)


@require_POST
def stop_pgbouncer(request: HttpRequest) -> JsonResponse:
    _request(request, "stop-pgbouncer")
    return JsonResponse({"action": "stop-pgbouncer", "status": "requested"}, status=202)


@require_POST
def demo_action(request: HttpRequest, action: str) -> HttpResponse:
    """The lesson's buttons (htmx, or a plain form that lands on the status page)."""
    if action not in control.ACTIONS:
        raise LabError(f"there is no action {action!r}", field="action", status=404)
    _request(request, action)
    return _status(request, action)


@require_GET
def status_page(request: HttpRequest, action: str) -> TemplateResponse:
    """What the supervisor did last, polled while it is under way."""
    if action not in control.ACTIONS:
        raise LabError(f"there is no action {action!r}", field="action", status=404)
    return _status(request, action)


def _status(request: HttpRequest, action: str) -> TemplateResponse:
    context = {
        "action": action,
        "under_way": control.under_way(action),
        "last": control.last(action),
    }
    template = "lessons/faults.html#status" if request.htmx else "lessons/faults.html"
    return TemplateResponse(request, template, context)
