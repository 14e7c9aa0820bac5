"""One probe: take a connection the way the strategy does, ask for the backend PID."""

from __future__ import annotations

import os
import threading
import time
import weakref
from datetime import UTC, datetime
from typing import Any

from django.db import connections

from . import errors

_seen_lock = threading.Lock()
# The connections this worker process has been served by, for `new_backend`. Kept by
# connection object, not by PID: the operating system reuses PIDs (pid_max may be as
# low as 32768), and a new backend with an old PID is still a new connection.
_seen: weakref.WeakSet = weakref.WeakSet()


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000, 3)


def measure(alias: str, slug: str, hold_ms: int) -> dict[str, Any]:
    """Run the probe on `alias`; errors come back as a result, not an exception."""
    result: dict[str, Any] = {
        "strategy": slug,
        "backend_pid": None,
        "worker_pid": os.getpid(),
        "thread": threading.current_thread().name,
        "new_backend": False,
        "connect_ms": None,
        "query_ms": None,
        "at": datetime.now(UTC).isoformat(),
    }
    conn = connections[alias]
    start = time.perf_counter()
    try:
        conn.ensure_connection()
        connected = time.perf_counter()
        result["connect_ms"] = _ms(start, connected)
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid(), pg_sleep(%s)", [hold_ms / 1000])
            pid = cursor.fetchone()[0]
        result["query_ms"] = _ms(connected, time.perf_counter())
    except Exception as exc:
        kind = errors.classify(exc)
        result["error"] = {"kind": kind.kind, "title": kind.title, "message": str(exc)}
        result["waited_ms"] = _ms(start, time.perf_counter())
        return result
    raw = conn.connection
    raw = getattr(raw, "driver_connection", raw)  # under SQLAlchemy's pool wrapper
    with _seen_lock:
        result["new_backend"] = raw not in _seen
        _seen.add(raw)
    result["backend_pid"] = pid
    result["pool"] = pool_stats(conn)
    return result


def pool_stats(conn) -> dict[str, Any] | None:
    """The pool's own view, beside the probe: psycopg_pool stats or QueuePool status."""
    psycopg_pool = getattr(conn, "pool", None)
    if psycopg_pool is not None and hasattr(psycopg_pool, "get_stats"):
        stats = psycopg_pool.get_stats()
        return {"kind": "psycopg_pool", **stats}
    from dj_db_conn_pool.core import pool_container

    queue_pool = pool_container.get(conn.alias) if pool_container.has(conn.alias) else None
    if queue_pool is not None:
        return {
            "kind": "QueuePool",
            "size": queue_pool.size(),
            "checked_out": queue_pool.checkedout(),
            "overflow": queue_pool.overflow(),
            "checked_in": queue_pool.checkedin(),
            "status": queue_pool.status(),
        }
    return None
