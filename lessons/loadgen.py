"""A small, bounded HTTP load generator for loopback demo servers.

Whatever the demo server answers (a probe result, a 409 at its budget, a page from a
proxy, nothing at all) becomes one readable result per request: a run never fails
because one answer was odd.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from . import errors

Result = dict[str, Any]


class _Client(threading.local):
    conn: http.client.HTTPConnection | None = None

    def __init__(self, opened: list) -> None:
        self.opened = opened


def _get(client: _Client, base: str, path: str, timeout: float) -> tuple[int, bytes]:
    parts = urlsplit(base)
    for attempt in range(2):
        if client.conn is None:
            client.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
            client.opened.append(client.conn)
        try:
            client.conn.request("GET", path)
            response = client.conn.getresponse()
            return response.status, response.read()
        except (http.client.HTTPException, ConnectionError):
            # A kept-alive connection the server closed: retry once on a new one.
            client.conn.close()
            client.conn = None
            if attempt:
                raise
    raise AssertionError("unreachable")


def _skipped(kind: str, message: str) -> Result:
    return {"ok": False, "ms": 0, "error": errors.BY_KIND[kind].result(message)}


def as_result(status: int, body: bytes) -> Result:
    """One answer of the demo server as a run result, whatever it was."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        kind = "demo-down" if status in (502, 503, 504) else "http"
        return {"error": errors.BY_KIND[kind].result(f"HTTP {status}: not a probe result")}
    error = data.get("error")
    if isinstance(error, dict) and "kind" in error:
        return data  # the probe's own result: a pool timeout, a lost connection...
    if error is not None:
        # The demo server refused the probe itself (its budget, a bad parameter).
        kind = "lab-busy" if status == 409 else "http"
        return {"error": errors.BY_KIND[kind].result(str(error))}
    return data


def fetch_json(
    base: str,
    paths: list[str],
    concurrency: int,
    *,
    deadline_s: float,
    on_result: Callable[[int, Result], None],
    timeout: float = 40,
    stop: threading.Event | None = None,
) -> None:
    """GET every path (at most `concurrency` at once) and hand each result on.

    Bounded in count (the paths) and in time: past the deadline, or once `stop` is set
    (a cancelled run), the remaining requests are reported as not sent.
    """
    opened: list[http.client.HTTPConnection] = []
    client = _Client(opened)
    stop_at = time.monotonic() + deadline_s

    def one(index: int, path: str) -> None:
        if stop is not None and stop.is_set():
            on_result(index, _skipped("cancelled", "not sent: the run was cancelled"))
            return
        if time.monotonic() > stop_at:
            on_result(index, _skipped("deadline", f"not sent: past the {deadline_s:.0f} s limit"))
            return
        start = time.perf_counter()
        try:
            status, body = _get(client, base, path, timeout)
            data = as_result(status, body)
        except (OSError, http.client.HTTPException) as exc:
            status, data = 0, {"error": errors.BY_KIND["demo-down"].result(str(exc))}
        data["ms"] = round((time.perf_counter() - start) * 1000, 3)
        data["ok"] = status == 200 and "error" not in data
        data["http_status"] = status
        on_result(index, data)

    try:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="load") as pool:
            for index, path in enumerate(paths):
                pool.submit(one, index, path)
    finally:
        for conn in opened:
            conn.close()


def get_json(url: str, method: str = "GET", timeout: float = 10) -> Any:
    """One request on a connection of its own (so a new worker may take it), as JSON."""
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def each_worker(
    url: str,
    workers: int,
    method: str = "GET",
    timeout: float = 10,
    wanted: set[int] | None = None,
) -> list[Result]:
    """`url`'s answer from each of the demo server's `workers` processes, or at least from
    each worker whose pid is in `wanted` (the ones that served a run).

    A new connection goes to whichever worker accepts it first, so ask until every worker
    has answered (by its worker_pid), at most 10 times per worker (here the same worker
    accepted up to 8 new connections in a row, in 1 of 200 tries). A server that stops
    answering ends the asking: what it said so far is returned.
    """
    answers: dict[int, Result] = {}
    for _ in range(10 * max(1, workers)):
        heard = answers.keys()
        if (wanted is None and len(heard) >= workers) or (wanted is not None and wanted <= heard):
            break
        try:
            answer = get_json(url, method, timeout)
        except (OSError, ValueError):
            break
        answers.setdefault(answer["worker_pid"], answer)
    return list(answers.values())
