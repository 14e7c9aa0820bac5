"""Who is asking: a learner is a Django session, made only when there is something to keep.

Reading a lesson creates nothing; starting a run, answering a checkpoint or marking a
lesson makes the learner (and so the session). Everything marked *mine* in the API is
scoped to `current(request)`.
"""

from __future__ import annotations

import secrets
import time
from datetime import timedelta

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone

from .models import Learner, Run

SESSION_KEY = "learner"
SEEN_EVERY = timedelta(seconds=60)


_seen_at: dict[str, float] = {}


def key_of(request: HttpRequest) -> str | None:
    """The learner's key from the session alone: no query (a poll needs no more)."""
    session = getattr(request, "session", None)
    key = session.get(SESSION_KEY) if session is not None else None
    if key and time.monotonic() - _seen_at.get(key, 0.0) > SEEN_EVERY.total_seconds():
        # At most once a minute per process: the instructor's "active now" needs no more.
        _seen_at[key] = time.monotonic()
        Learner.objects.filter(key=key).update(last_seen=timezone.now())
    return key


def tag_of(request: HttpRequest) -> str | None:
    """The tag that marks this learner's connections (the first 8 of their key)."""
    key = key_of(request)
    return key[:8] if key else None


def current(request: HttpRequest) -> Learner | None:
    """The learner behind this request, or None when they have not done anything yet."""
    if hasattr(request, "_learner"):
        return request._learner
    session = getattr(request, "session", None)
    key = session.get(SESSION_KEY) if session is not None else None
    learner = Learner.objects.filter(key=key).first() if key else None
    if learner is not None and timezone.now() - learner.last_seen > SEEN_EVERY:
        # At most once a minute: the instructor's "active now" needs no more.
        Learner.objects.filter(pk=learner.pk).update(last_seen=timezone.now())
    request._learner = learner
    return learner


def ensure(request: HttpRequest) -> Learner:
    """The learner behind this request, made (with its session) if need be."""
    learner = current(request)
    if learner is None:
        learner = Learner.objects.create(key=secrets.token_hex(16))
        request.session[SESSION_KEY] = learner.key
        request._learner = learner
    return learner


def is_instructor(request: HttpRequest) -> bool:
    """Signed in as the room's instructor (lessons.views.instructor)."""
    session = getattr(request, "session", None)
    return bool(session is not None and session.get("instructor"))


def my_run(request: HttpRequest, run_id: int) -> Run:
    """A run of this learner's; anyone else's is not found (404), not forbidden."""
    from .runs import queue

    key = key_of(request)
    run = get_object_or_404(Run.objects.select_related("learner"), pk=run_id, learner__key=key)
    if not run.finished_running:
        queue.tick()  # someone is waiting on it: keep the queue moving
    return run
