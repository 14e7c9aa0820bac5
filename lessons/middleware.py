"""Server-Timing: how long Django took for each response, visible in the browser's tools."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


def server_timing(get_response: Callable[[HttpRequest], HttpResponse]):
    def middleware(request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = get_response(request)
        elapsed_ms = (time.perf_counter() - started) * 1000
        response["Server-Timing"] = f'app;dur={elapsed_ms:.2f};desc="Django"'
        return response

    return middleware


def permissions_policy(get_response: Callable[[HttpRequest], HttpResponse]):
    """Permissions-Policy and Cross-Origin-Resource-Policy, which Django does not set."""
    from django.conf import settings

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        response.setdefault("Cross-Origin-Resource-Policy", settings.CROSS_ORIGIN_RESOURCE_POLICY)
        return response

    return middleware


# Paths whose POST starts a run: counted against the "run" limit too.
RUN_PATHS = ("/api/runs", "/demos/runs/", "/api/pitfalls/", "/demos/pitfalls/",
             "/api/benchmarks", "/demos/benchmarks/")  # fmt: skip


def _address(request: HttpRequest) -> str:
    from django.conf import settings

    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded and settings.LAB["TRUST_FORWARDED_FOR"]:
        return forwarded.split(",")[0].strip()  # the load balancer's view of the client
    return request.META.get("REMOTE_ADDR", "")


def rate_limits(get_response: Callable[[HttpRequest], HttpResponse]):
    """lessons.ratelimit on every request: a 429 with Retry-After past a limit."""
    from . import learners, ratelimit
    from .boundary import TooMany, render

    def count(request: HttpRequest) -> None:
        learner = request.session.get(learners.SESSION_KEY)
        changes = request.method not in {"GET", "HEAD", "OPTIONS"}
        if learner:
            ratelimit.hit("request", learner)
            if changes:
                ratelimit.hit("action", learner)
                if request.path.startswith(RUN_PATHS):
                    ratelimit.hit("run", learner)
            return
        ratelimit.hit("anonymous", _address(request))
        if changes:
            ratelimit.hit("newcomer", _address(request))

    def middleware(request: HttpRequest) -> HttpResponse:
        try:
            count(request)
        except TooMany as exc:
            response = render(request, exc)
            return response.render() if hasattr(response, "render") else response
        return get_response(request)

    return middleware
