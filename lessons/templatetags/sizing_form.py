"""`{% sizing_form demo as calc %}`: the calculator's form as a lesson's demo line fills it in."""

from __future__ import annotations

from typing import Any

from django import template

from ..demos import Embed

register = template.Library()


@register.simple_tag
def sizing_form(demo: Embed) -> dict[str, Any]:
    from ..views.sizing import embed_form

    return embed_form(demo.options, demo.anchor)
