"""A small, bounded HTTP load generator for loopback demo servers."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

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


def fetch_json(
    base: str,
    paths: list[str],
    concurrency: int,
    *,
    deadline_s: float,
    on_result: Callable[[int, Result], None],
    timeout: float = 40,
) -> None:
    """GET every path (at most `concurrency` at once) and hand each parsed result on.

    Bounded in count (the paths) and in time: past the deadline the remaining
    requests are reported as skipped instead of sent.
    """
    opened: list[http.client.HTTPConnection] = []
    client = _Client(opened)
    stop_at = time.monotonic() + deadline_s

    def one(index: int, path: str) -> None:
        if time.monotonic() > stop_at:
            on_result(
                index,
                {
                    "ok": False,
                    "ms": 0,
                    "error": {
                        "kind": "deadline",
                        "title": "Run deadline",
                        "message": f"not sent: past the {deadline_s:.0f} s limit",
                    },
                },
            )
            return
        start = time.perf_counter()
        try:
            status, body = _get(client, base, path, timeout)
            data = json.loads(body)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            status, data = 0, {"error": {"kind": "http", "title": "No answer", "message": str(exc)}}
        data["ms"] = round((time.perf_counter() - start) * 1000, 3)
        data["ok"] = status == 200 and "error" not in data
        data["http_status"] = status
        on_result(index, data)

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="load") as pool:
        for index, path in enumerate(paths):
            pool.submit(one, index, path)
    for conn in opened:
        conn.close()
