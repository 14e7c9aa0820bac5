"""Helpers for tests that talk to the real lab over HTTP."""

from __future__ import annotations

import http.cookiejar
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Skip locally when a real part is missing; in CI a missing part is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # Tests look at the redirect itself (a plain form answers 302).
    def redirect_request(self, *args, **kwargs):
        return None


class _From(urllib.request.HTTPHandler):
    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source

    def http_open(self, req):
        import functools
        import http.client

        connect = functools.partial(http.client.HTTPConnection, source_address=(self.source, 0))
        return self.do_open(connect, req)


class Http:
    """A tiny browser-like client: keeps cookies, sends Django's CSRF token."""

    def __init__(
        self, base: str, jar: http.cookiejar.CookieJar | None = None, source: str = ""
    ) -> None:
        self.base = base
        self.jar = jar if jar is not None else http.cookiejar.CookieJar()
        handlers = [urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect]
        if source:  # another loopback address (127.0.0.2): another "machine" in the room
            handlers.append(_From(source))
        self.opener = urllib.request.build_opener(*handlers)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        form: dict | None = None,
        headers: dict | None = None,
    ) -> tuple[int, bytes, dict]:
        data, hdrs = None, {"Referer": self.base + "/", **(headers or {})}
        if body is not None:
            data, hdrs["Content-Type"] = json.dumps(body).encode(), "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form, doseq=True).encode()
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        if method not in {"GET", "HEAD", "OPTIONS"}:
            hdrs["X-CSRFToken"] = self.csrf_token()
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
        try:
            with self.opener.open(req, timeout=60) as response:
                return response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), dict(exc.headers)

    def csrf_token(self) -> str:
        for cookie in self.jar:
            if cookie.name == "csrftoken":
                return cookie.value
        self.request("GET", "/")
        return next(c.value for c in self.jar if c.name == "csrftoken")

    def get_json(self, path: str) -> tuple[int, Any]:
        status, body, _ = self.request("GET", path)
        return status, json.loads(body)

    def post_json(self, path: str, body: Any) -> tuple[int, Any]:
        status, raw, _ = self.request("POST", path, body=body)
        return status, json.loads(raw)

    def text(self, path: str) -> str:
        status, body, _ = self.request("GET", path)
        assert status == 200, (path, status)
        return body.decode()

    def run(
        self,
        strategy: str,
        params: dict | None = None,
        requests: int = 10,
        concurrency: int = 1,
        hold_ms: int = 0,
        timeout: float = 90,
        **fields: Any,
    ) -> dict:
        """Start a run through the API and wait until it is done."""
        created = self.start(strategy, params, requests, concurrency, hold_ms, **fields)
        run = self.wait(created["url"], timeout)
        assert run["status"] == "done", run.get("error")
        return run

    def start(
        self,
        strategy: str,
        params: dict | None = None,
        requests: int = 10,
        concurrency: int = 1,
        hold_ms: int = 0,
        **fields: Any,
    ) -> dict:
        status, created = self.post_json(
            "/api/runs",
            {
                "strategy": strategy,
                "params": params or {},
                "requests": requests,
                "concurrency": concurrency,
                "hold_ms": hold_ms,
                **fields,
            },
        )
        assert status == 201, created
        return created

    def wait(self, url: str, timeout: float = 90) -> dict:
        """Poll a run until it has finished, however it finished."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _, run = self.get_json(url)
            if run["status"] in {"done", "failed", "cancelled"}:
                return run
            time.sleep(0.1)
        raise AssertionError(f"{url} did not finish in {timeout} s")


def pids(run: dict) -> list[int]:
    return [r["backend_pid"] for r in run["results"] if r["ok"]]
