"""Lesson 12's decision guide with my runs as its evidence: a request of its own, since the
lesson body around it is the same for every learner."""

from __future__ import annotations

from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from .. import evidence, learners
from .pages import HtmxHttpRequest


@require_GET
def guide(request: HtmxHttpRequest) -> TemplateResponse:
    context = {"guide": evidence.guide(learners.current(request))}
    template = "lessons/evidence.html#guide" if request.htmx else "lessons/evidence.html"
    return TemplateResponse(request, template, context)
