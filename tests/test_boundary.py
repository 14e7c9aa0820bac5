"""One error boundary: every refusal is a clear 4xx in the shape the caller can read."""

from __future__ import annotations

import json
import urllib.request

import pytest


def post_raw(site, path: str, body: bytes) -> tuple[int, dict]:
    """POST raw bytes as JSON (with the CSRF token), whatever they are."""
    request = urllib.request.Request(
        site.base + path,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-CSRFToken": site.csrf_token(),
            "Referer": site.base + "/",
        },
    )
    try:
        with site.opener.open(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 10_000,
        b'{"a":' * 3_000 + b"1" + b"}" * 3_000,
        b'{"strategy": "no-pool", "params": ' + b"[" * 40 + b"]" * 40 + b"}",
    ],
    ids=["10000-arrays", "3000-objects", "40-deep-params"],
)
@pytest.mark.parametrize("path", ["/api/runs", "/api/connections/terminate"])
def test_deeply_nested_json_is_a_400_not_a_500(site, path, body):
    status, answer = post_raw(site, path, body)
    assert status == 400, answer
    assert answer["field"] == "body" and "nested" in answer["error"]


def test_a_body_past_64_kib_is_refused_before_parsing(site):
    status, answer = post_raw(site, "/api/runs", b'{"x": "' + b"a" * 70_000 + b'"}')
    assert status == 413 and answer["field"] == "body"


def test_a_csrf_failure_on_the_api_is_json_naming_the_token(site):
    request = urllib.request.Request(
        site.base + "/api/runs",
        data=b"{}",
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 403
    answer = json.loads(caught.value.read())
    assert answer["field"] == "csrf" and "X-CSRFToken" in answer["error"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/runs", ["GET", "POST"]),
        ("GET", "/api/connections/terminate", ["POST"]),
        ("PUT", "/api/lab", ["GET"]),
    ],
)
def test_a_wrong_method_is_json_naming_what_is_allowed(site, method, path, allowed):
    status, raw, _ = site.request(method, path)
    assert status == 405
    answer = json.loads(raw)
    assert answer["field"] == "method" and answer["allowed"] == allowed


def test_without_javascript_an_error_is_the_whole_page_with_the_message(site):
    status, body, _ = site.request(
        "POST", "/demos/runs/", form={"strategy": "no-pool", "requests": "99999"}
    )
    html = body.decode()
    assert status == 400
    assert "<html" in html and "<h1>" in html  # the page, not a bare fragment
    assert "requests must be a whole number from 1 to 500" in html


def test_with_htmx_an_error_is_one_fragment_with_the_message_once(site):
    status, body, _ = site.request(
        "POST",
        "/demos/runs/",
        form={"strategy": "persistent", "param.conn_max_age": "-1"},
        headers={"HX-Request": "true"},
    )
    html = body.decode()
    assert status == 400 and "<html" not in html
    assert html.count("conn_max_age must be") == 1


def test_one_learner_past_the_request_limit_gets_429_and_others_do_not(site, learner):
    site.post_json("/api/lab/reset", {})  # makes the learner (their session)
    limit = 1200  # lessons.ratelimit's "request" limit
    statuses = []
    while 429 not in statuses and len(statuses) < 2 * limit + 5:
        statuses.append(site.request("GET", "/api/strategies")[0])
    # Never refused before the limit (a minute's window may end meanwhile: at most twice).
    assert statuses[-1] == 429 and limit <= statuses.index(429) <= 2 * limit
    status, raw, headers = site.request("GET", "/api/strategies")
    answer = json.loads(raw)
    assert status == 429 and answer["field"] == "rate" and 0 < int(headers["Retry-After"]) <= 61
    # Another learner in the same room (same address) is not slowed down.
    assert learner.request("GET", "/api/strategies")[0] == 200


def test_cookie_less_clients_making_learners_are_limited_by_address(lab):
    from .support import Http

    # From an address of its own (127.0.0.3), so that the rest of the suite's learners,
    # all from 127.0.0.1, are not counted with these.
    limit = 300  # the test lab's POOLING_LAB_RATE_NEWCOMER
    statuses = []
    while 429 not in statuses and len(statuses) < 2 * limit + 5:
        statuses.append(Http(lab.url, source="127.0.0.3").post_json("/api/lab/reset", {})[0])
    # Never refused before the limit (a minute's window may end meanwhile: at most twice).
    assert statuses[-1] == 429 and limit <= statuses.index(429) <= 2 * limit
    assert set(statuses[:-1]) == {200}
    # A learner from another machine is not held back by that one.
    assert Http(lab.url, source="127.0.0.4").post_json("/api/lab/reset", {})[0] == 200
