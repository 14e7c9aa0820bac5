"""JSON answers for the API: clear 4xx errors, never a traceback."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, JsonResponse

from .budget import OverBudget
from .params import BadInput


def from_bad_input(exc: BadInput) -> JsonResponse:
    return JsonResponse(exc.as_json(), status=400)


def over_budget(exc: OverBudget) -> JsonResponse:
    return JsonResponse(exc.as_json(), status=409)


def not_found(what: str, allowed: Any) -> JsonResponse:
    return JsonResponse(
        {"error": f"{what} does not exist", "field": "strategy", "allowed": allowed}, status=404
    )


def conflict(reason: str, field: str = "strategy") -> JsonResponse:
    return JsonResponse({"error": reason, "field": field, "reason": reason}, status=409)


def json_body(request: HttpRequest) -> Any:
    """The request's JSON body, or form fields when a plain form posted it."""
    if request.content_type == "application/json":
        try:
            return json.loads(request.body or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadInput("body", f"the body is not valid JSON: {exc}", "a JSON object") from exc
    return form_to_run(request.POST)


def form_to_run(form) -> dict[str, Any]:
    """A plain HTML form's fields: run fields at the top, `param.<name>` for parameters."""
    body: dict[str, Any] = {"params": {}}
    for key in form:
        if key.startswith("param."):
            body["params"][key.removeprefix("param.")] = form.get(key)
        elif key != "csrfmiddlewaretoken":
            body[key] = form.get(key)
    return body
