"""The demo servers' views: one probe per request, and what a run asks for afterwards."""

from __future__ import annotations

import os

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from .. import aliases, errors, probe
from ..boundary import json_errors
from ..params import BadInput


def _choice(request: HttpRequest, slug: str) -> tuple[aliases.Choice, int, int]:
    # By the raw query string: a run sends the same one every time, and a cache hit then
    # costs no parsing at all (request.GET would build a QueryDict for every probe).
    return probe.parse_query(slug, request.META.get("QUERY_STRING", ""))


@json_errors
@require_GET
def probe_view(request: HttpRequest, slug: str) -> HttpResponse:
    choice, hold_ms, work_ms = _choice(request, slug)
    result = probe.probe(choice, hold_ms, work_ms)
    status = errors.BY_KIND[result["error"]["kind"]].status if "error" in result else 200
    body = probe.answer(result)  # bytes: a str would have its charset looked up every time
    # With its length said, gunicorn sends the answer whole: without, it sends it as a chunk
    # and then an end-of-chunks marker, one more send on the socket for every probe.
    return HttpResponse(
        body,
        content_type="application/json",
        status=status,
        headers={"Content-Length": str(len(body))},
    )


@json_errors
@require_GET
def stats_view(request: HttpRequest, slug: str) -> JsonResponse:
    choice, _, _ = _choice(request, slug)
    return JsonResponse(probe.stats(choice))


# The demo servers listen on loopback only and serve the lab's own run workers: there is
# no session to forge a request from, and no CSRF middleware on them.
@csrf_exempt
@json_errors
@require_POST
def release(request: HttpRequest) -> JsonResponse:
    """Close a learner's idle aliases in this process (after an ASGI run: the pile-up)."""
    owner = request.GET.get("owner", "")
    if not owner or len(owner) > 16 or not set(owner) <= probe.OWNER_CHARS:
        raise BadInput("owner", "owner must be a learner's tag", "up to 16 hex digits")
    closed = aliases.close_all(owner)
    return JsonResponse({"worker_pid": os.getpid(), "closed": closed})


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True, "worker_pid": os.getpid()})
