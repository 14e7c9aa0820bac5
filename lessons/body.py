"""A lesson's body, demos and all, rendered once and reused.

Rendering a dozen demo partials costs more than the rest of the page together, and
the result is the same for every learner but for the CSRF token in the demo forms:
that is rendered as a slot and filled in per request.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from . import content, lab

CSRF_SLOT = "csrf-token-slot-7c1e4b"


def _render(slug: str) -> str:
    lesson = content.by_slug()[slug]
    context = {"lesson": lesson, "csrf_token": CSRF_SLOT, "lab": lab.config()}
    return render_to_string("lessons/lesson_body.html", context)


_cached = functools.cache(_render)


def body_html(request: HttpRequest, slug: str) -> SafeString:
    html = _render(slug) if settings.DEBUG else _cached(slug)
    # The page's own content and the token Django made for this request: both safe.
    return mark_safe(html.replace(CSRF_SLOT, get_token(request)))
