"""The sizing calculator over HTTP: `GET /api/sizing`, and lesson 10's demo.

The demo is a plain GET form: with htmx its answer is swapped into the lesson, without
JavaScript the same URL is a page of its own with the form filled in again. The numbers
come from `lessons.sizing`; this module only shapes the form around them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from .. import lab, sizing, strategies
from ..params import BadInput, Param
from .pages import HtmxHttpRequest

# Form fields that are the page's, not the calculator's.
FORM_ONLY = ("anchor",)
ANCHOR = re.compile(r"^demo-\d{1,3}$")
DEFAULT_STRATEGY = "native-pool"
PLACE = {  # which box of the form a shared field sits in
    "instances": "deployment",
    "workers": "deployment",
    "threads": "deployment",
    "superuser_reserved_connections": "postgres",
    "reserved_connections": "postgres",
}


@dataclass(frozen=True)
class Field:
    """One input of the calculator's form, with the value the learner gave it."""

    name: str
    type: str
    value: str
    placeholder: str
    help: str
    min: float | None = None
    max: float | None = None


def facts() -> dict[str, Any]:
    """The live server's max_connections and the lab's PgBouncer: the calculator's defaults."""
    bouncer = lab.pgbouncer() or {}
    return {
        "max_connections": lab.server_facts()["max_connections"],
        "pgbouncer_version": bouncer.get("version"),
    }


def _field(param: Param, raw: Mapping[str, Any], placeholder: Any = None) -> Field:
    value = raw.get(param.name)
    shown = param.default if placeholder is None else placeholder
    return Field(
        name=param.name,
        type=param.type,
        value="" if value is None else str(value),
        placeholder="none" if shown is None else str(shown).lower(),
        help=param.help,
        min=param.min,
        max=param.max,
    )


def form(raw: Mapping[str, Any], anchor: str) -> dict[str, Any]:
    """The calculator's form for the strategy `raw` names: its fields, in three boxes."""
    strategy = strategies.STRATEGIES.get(str(raw.get("strategy") or DEFAULT_STRATEGY))
    strategy = strategy or strategies.STRATEGIES[DEFAULT_STRATEGY]
    live = facts()
    boxes: dict[str, list[Field]] = {"deployment": [], "strategy": [], "postgres": []}
    for name, param in sizing.strategy_fields(strategy).items():
        boxes[PLACE.get(name, "strategy")].append(_field(param, raw))
    if strategy.pgbouncer_mode:
        version = Param(
            sizing.deployment.VERSION_FIELD,
            "version",
            live["pgbouncer_version"] or sizing.deployment.DEFAULT_PGBOUNCER_VERSION,
            help="Your PgBouncer's version (pgbouncer --version): 1.18's keys differ from 1.24's.",
        )
        boxes["strategy"].append(_field(version, raw))
    limit = Param(
        "max_connections",
        "int",
        live["max_connections"],
        1,
        sizing.deployment.PG_MAX_CONNECTIONS,
        "Your server's SHOW max_connections (blank: this lab's server).",
    )
    boxes["postgres"].insert(0, _field(limit, raw))
    return {
        "anchor": anchor,
        "strategy": strategy,
        "strategies": strategies.STRATEGIES.values(),
        "boxes": boxes,
    }


def _fields(request: HttpRequest) -> tuple[dict[str, str], str]:
    """The calculator's fields from a query string, and the demo the form belongs to."""
    anchor = request.GET.get("anchor", "")
    raw = {k: request.GET.get(k, "") for k in request.GET if k not in FORM_ONLY}
    return raw, anchor if ANCHOR.match(anchor) else "sizing"


@require_GET
def api_sizing(request: HttpRequest) -> JsonResponse:
    """GET /api/sizing: totals, warnings and files; BadInput answers 400 naming the field."""
    return JsonResponse(sizing.size(request.GET, **facts()))


@require_GET
def sizing_demo(request: HtmxHttpRequest) -> TemplateResponse:
    """The answer: a fragment for htmx, the whole page (form included) without JavaScript."""
    raw, anchor = _fields(request)
    context: dict[str, Any] = {"calc": form(raw, anchor)}
    status = 200
    try:
        context["sizing"] = sizing.size(raw, **facts())
    except BadInput as exc:
        context.update(error=exc.message, error_field=exc.field, allowed=exc.allowed)
        status = 400
    template = "lessons/sizing.html#sizing-result" if request.htmx else "lessons/sizing.html"
    return TemplateResponse(request, template, context, status=status)


@require_GET
def sizing_fields(request: HtmxHttpRequest) -> TemplateResponse:
    """The form's fields for another strategy (htmx, when the strategy is changed)."""
    raw, anchor = _fields(request)
    return TemplateResponse(request, "lessons/sizing.html#fields", {"calc": form(raw, anchor)})


def embed_form(options: Mapping[str, str], anchor: str) -> dict[str, Any]:
    """The form as a lesson's `{{ demo sizing ... }}` line fills it in."""
    return form({k: v for k, v in options.items() if k != "predict"}, anchor)
