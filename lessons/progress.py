"""Anonymous progress, kept in the learner's (database-backed) session."""

from __future__ import annotations

from django.http import HttpRequest

VISITED = "visited"
COMPLETED = "completed"


def _get(request: HttpRequest, key: str) -> list[str]:
    return list(request.session.get(key, []))


def visited(request: HttpRequest) -> set[str]:
    return set(_get(request, VISITED))


def completed(request: HttpRequest) -> set[str]:
    return set(_get(request, COMPLETED))


def mark_visited(request: HttpRequest, slug: str) -> None:
    seen = _get(request, VISITED)
    if slug not in seen:
        request.session[VISITED] = [*seen, slug]


def set_completed(request: HttpRequest, slug: str, done: bool) -> None:
    items = [s for s in _get(request, COMPLETED) if s != slug]
    request.session[COMPLETED] = [*items, slug] if done else items
