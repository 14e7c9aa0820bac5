"""The one error boundary: every lab error knows its HTTP status and its JSON shape.

Views raise a `LabError` (or a subclass); `LabErrorMiddleware` turns it into JSON for the
API and for scripts, into a fragment for htmx, and into the whole page for a plain form
(a learner without JavaScript gets the page with the message, not a bare fragment).
CSRF failures, wrong methods and unknown API paths get the same JSON shape.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse, RawPostDataException
from django.template.response import TemplateResponse
from django.utils.deprecation import MiddlewareMixin


class LabError(Exception):
    """An answer the learner can act on: a status, a message, the field and what is allowed."""

    status = 400

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        allowed: Any = None,
        status: int | None = None,
        retry_after: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.allowed = allowed
        self.retry_after = retry_after
        self.extra = extra or {}
        if status is not None:
            self.status = status

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message}
        if self.field is not None:
            body["field"] = self.field
        if self.allowed is not None:
            body["allowed"] = self.allowed
        return {**body, **self.extra}

    def response(self) -> JsonResponse:
        response = JsonResponse(self.as_json(), status=self.status)
        if self.retry_after is not None:
            response["Retry-After"] = str(self.retry_after)
        return response


class NotFound(LabError):
    status = 404


class Conflict(LabError):
    """Not possible in the lab's present state (unavailable here, past the budget, busy)."""

    status = 409


class TooMany(LabError):
    """A rate or queue limit: try again after `retry_after` seconds."""

    status = 429


class Unavailable(LabError):
    status = 503


# The API and the demo servers' probes always answer JSON.
JSON_PATHS = ("/api/", "/probe/")


def wants_json(request: HttpRequest) -> bool:
    if request.path.startswith(JSON_PATHS):
        return True
    return "application/json" in request.headers.get("Accept", "") and not getattr(
        request, "htmx", False
    )


def render(request: HttpRequest, error: LabError) -> HttpResponse:
    if wants_json(request):
        return error.response()
    template = "error.html#message" if getattr(request, "htmx", False) else "error.html"
    response = TemplateResponse(request, template, {"error": error}, status=error.status)
    if error.retry_after is not None:
        response["Retry-After"] = str(error.retry_after)
    return response


class LabErrorMiddleware(MiddlewareMixin):
    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, LabError):
            response = render(request, exception)
            # process_exception answers are not rendered by Django's template step.
            return response.render() if isinstance(response, TemplateResponse) else response
        return None

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        # require_GET/require_POST answer 405 with an empty body: name what is allowed.
        if response.status_code == 405 and wants_json(request):
            allowed = [m.strip() for m in response.get("Allow", "").split(",") if m.strip()]
            return LabError(
                f"{request.method} is not allowed here",
                field="method",
                allowed=allowed,
                status=405,
            ).response()
        return response


def json_errors(view):
    """The boundary for the demo servers, which carry no middleware at all (each one costs
    every probe): a lab error raised by the view becomes its JSON answer."""
    import functools

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except LabError as error:
            return error.response()

    return wrapped


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: the same shape as every other refusal."""
    error = LabError(
        "the CSRF token is missing or wrong: load a page of the site first and send its "
        "csrftoken cookie back in the X-CSRFToken header",
        field="csrf",
        allowed="the value of the csrftoken cookie",
        status=403,
    )
    return render(request, error)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: JSON for the API, the site's page otherwise."""
    return render(request, NotFound(f"{request.path} does not exist", field="path"))


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: never a traceback, and the API still answers JSON.

    The database being away (a restart, a failover) is not the lab's fault and passes in
    seconds: a 503 that says so, wherever it was met (a view, the session, a middleware).
    """
    from django.db import InterfaceError, OperationalError

    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        response = render(
            request,
            Unavailable(
                "the lab's database is not answering (restarting?); try again in a moment",
                retry_after=2,
            ),
        )
        return response.render() if isinstance(response, TemplateResponse) else response
    error = LabError("the lab hit an unexpected error; it is logged", status=500)
    if wants_json(request):
        return error.response()
    return HttpResponse(
        "<!doctype html><title>Error</title><h1>Something went wrong</h1>"
        "<p>The lab hit an unexpected error; it is logged. Try again.</p>",
        status=500,
    )


MAX_DEPTH = 16


def _depth(text: str) -> int:
    """The deepest nesting of arrays and objects, outside strings, without recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return deepest  # no need to read further
        elif char in "]}":
            depth -= 1
    return deepest


def json_body(request: HttpRequest) -> Any:
    """The request's JSON body, parsed with a size and a depth limit (400, never 500)."""
    from django.core.exceptions import RequestDataTooBig

    try:
        raw = request.body
    except (RequestDataTooBig, RawPostDataException) as exc:
        raise LabError(
            "the body is too large", field="body", allowed="at most 64 KiB", status=413
        ) from exc
    try:
        text = raw.decode() if raw else "null"
    except UnicodeDecodeError as exc:
        raise LabError("the body is not UTF-8", field="body", allowed="a JSON object") from exc
    if _depth(text) > MAX_DEPTH:
        raise LabError(
            f"the body is nested more than {MAX_DEPTH} levels deep",
            field="body",
            allowed=f"a JSON object nested at most {MAX_DEPTH} levels",
        )
    try:
        return json.loads(text)
    except ValueError as exc:
        raise LabError(
            f"the body is not valid JSON: {exc}", field="body", allowed="a JSON object"
        ) from exc


def body_object(request: HttpRequest) -> dict[str, Any]:
    """A JSON object body, or a plain form's fields (`param.<name>` for parameters)."""
    if request.content_type == "application/json":
        body = json_body(request)
        if not isinstance(body, dict):
            raise LabError("the body must be a JSON object", field="body", allowed="an object")
        return body
    return form_fields(request.POST)


def form_fields(form) -> dict[str, Any]:
    body: dict[str, Any] = {"params": {}}
    for key in form:
        if key.startswith("param."):
            body["params"][key.removeprefix("param.")] = form.get(key)
        elif key != "csrfmiddlewaretoken":
            body[key] = form.get(key)
    return body
