"""One probe: take a connection the way the strategy does, ask for the backend PID.

The probe is the demo servers' whole job, so its hot path does only what a learner needs
to see: parameters are parsed once per distinct query string, a connection's start time is
read once per connection, and a pool's statistics are asked for separately, after a run.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
import weakref
from collections import OrderedDict, deque
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from . import aliases, budget, errors, lab, strategies
from .backends import NOTHING_YET
from .params import BadInput, Param

HOLD = Param("hold_ms", "int", 0, 0, 2000, "Milliseconds each request keeps its connection busy.")
WORK = Param(
    "work_ms",
    "int",
    0,
    0,
    2000,
    "Milliseconds of other work after the query; Django keeps the connection until the "
    "request ends.",
)
OWNER_CHARS = set("0123456789abcdef")

PID_SQL = "SELECT pg_backend_pid(), NULL, pg_sleep(%s)"
# A new connection's start time is read with its first query: (pid, start) names a
# backend for good, where a PID alone may be reused by the operating system.
START_SQL = (
    # The function behind pg_stat_activity, asked for one backend: a third of the view's cost.
    "SELECT pid, backend_start, pg_sleep(%s) FROM pg_stat_get_activity(pg_backend_pid())"
)

_seen_lock = threading.Lock()
# A connection that has served a probe carries its backend's start time (`_lab_start`):
# that is how this process knows it is not new. One request at a time uses a connection,
# so no lock is needed. Behind PgBouncer the client connection is not the backend: keep
# the backends themselves.
_seen_servers: OrderedDict[tuple[int, str], None] = OrderedDict()
# When each connection this process opened went away without a request seeing it (its
# object collected: under ASGI a request's persistent connection dies with its context),
# by "<pid>@<start>". A run asks for it afterwards, so its peak counts what was open.
# A deque: appending is atomic, and the finalizer may run (by garbage collection) in a
# thread that holds one of this module's locks.
_gone: deque[tuple[str, float]] = deque(maxlen=4096)


@functools.lru_cache(maxsize=512)
def parse_query(slug: str, query: str) -> tuple[aliases.Choice, int, int]:
    """parse() for a raw query string (the last value of a repeated name wins)."""
    return parse(slug, tuple(sorted(dict(parse_qsl(query, keep_blank_values=True)).items())))


@functools.lru_cache(maxsize=512)
def parse(slug: str, query: tuple[tuple[str, str], ...]) -> tuple[aliases.Choice, int, int]:
    """The choice, hold_ms and work_ms a probe URL asks for (BadInput on a bad value)."""
    strategy = strategies.get(slug)
    raw = dict(query)
    hold_ms = HOLD.parse(raw.pop("hold_ms", None))
    work_ms = WORK.parse(raw.pop("work_ms", None))
    owner, epoch = raw.pop("owner", ""), raw.pop("epoch", "")
    if len(owner) > 16 or not set(owner) <= OWNER_CHARS:
        raise BadInput("owner", "owner must be a learner's tag", "up to 16 hex digits")
    if len(epoch) > 32 or (not epoch.replace(".", "").isalnum() and epoch):
        raise BadInput("epoch", "epoch must be a short token", "letters, digits and dots")
    params = strategy.parse(raw)
    budget.check_choice(strategy, params, lab.demo_server())
    return aliases.Choice(strategy, params, owner, epoch), hold_ms, work_ms


def _ms(seconds: float) -> float:
    # Whole microseconds, shown in milliseconds: round() with digits costs far more.
    return round(seconds * 1e6) / 1000


# The worker process's PID, read once: the probe is the process's whole job. A fork (a
# server that preloads the app) gives the child its own.
_worker_pid = os.getpid()
os.register_at_fork(after_in_child=lambda: globals().__setitem__("_worker_pid", os.getpid()))

# The ISO date and time of the last second a probe was asked in: a probe asked in the same
# second only adds its microseconds.
_second: tuple[int, str] = (0, "")


def _iso(at: float) -> str:
    """`at` (seconds since the epoch) in ISO 8601, in UTC, always to the microsecond."""
    global _second
    whole = int(at)
    second, text = _second
    if whole != second:
        text = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second = (whole, text)  # one tuple: a thread reads both or neither
    return f"{text}.{int((at - whole) * 1e6):06d}+00:00"


def _driver(raw):
    return getattr(raw, "driver_connection", raw)  # under SQLAlchemy's pool wrapper


def _server_is_new(pid: int, start: str | None) -> bool:
    with _seen_lock:
        key = (pid, start or "")
        new = key not in _seen_servers
        _seen_servers[key] = None
        while len(_seen_servers) > 4096:
            _seen_servers.popitem(last=False)
        return new


def _query(cursor, raw, choice: aliases.Choice, hold_ms: int) -> tuple[int, str | None, bool]:
    """The backend's PID and start, and whether this is its first request here."""
    behind_pgbouncer = choice.strategy.pgbouncer_mode
    known = None if behind_pgbouncer else getattr(raw, "_lab_start", None)
    cursor.execute(PID_SQL if known else START_SQL, [hold_ms / 1000])
    pid, start, _ = cursor.fetchone()
    if known:
        return pid, known, False
    start = start.isoformat() if start else None
    if behind_pgbouncer:
        return pid, start, _server_is_new(pid, start)
    raw._lab_start = start
    weakref.finalize(raw, _went, f"{pid}@{start}")
    return pid, start, True


def _went(key: str) -> None:
    _gone.append((key, time.time()))


def measure(conn, choice: aliases.Choice, hold_ms: int, work_ms: int) -> dict[str, Any]:
    """Run the probe on `conn` (a DatabaseWrapper); errors come back as a result."""
    asked_at = time.time()
    start = time.perf_counter()
    conn.acquired = NOTHING_YET
    check_ms = 0.0
    ready = None
    try:
        if conn.connection is not None:
            # What Django does first in cursor(): with CONN_HEALTH_CHECKS, test a reused
            # connection (and drop it if dead), so that a reconnect shows in connect_ms.
            conn.close_if_health_check_failed()
            check_ms = _ms(time.perf_counter() - start)
        conn.ensure_connection()
        ready = time.perf_counter()
        raw = _driver(conn.connection)
        with conn.cursor() as cursor:
            pid, backend_start, new = _query(cursor, raw, choice, hold_ms)
        query_ms = _ms(time.perf_counter() - ready)
    except Exception as exc:
        return _failed(conn, choice, exc, asked_at, start, check_ms, ready)
    if work_ms:
        time.sleep(work_ms / 1000)  # other work; Django still holds the connection
    acquired = conn.acquired
    # One literal: the probe is the demo servers' whole job.
    return {
        "strategy": choice.strategy.slug,
        "backend_pid": pid,
        "backend_start": backend_start,
        "worker_pid": _worker_pid,
        "thread": threading.current_thread().name,
        "new_backend": new,
        "wait_ms": _ms(acquired.wait_s),
        "connect_ms": _ms(acquired.connect_s),
        "check_ms": check_ms,
        "query_ms": query_ms,
        "at": _iso(asked_at),
        "asked_at": asked_at,
        "opened": acquired.opened,
        "acquired_at": asked_at + (ready - start),
        "raw": raw,
    }


def _failed(
    conn,
    choice: aliases.Choice,
    exc: Exception,
    asked_at: float,
    start: float,
    check_ms: float,
    ready: float | None,
) -> dict[str, Any]:
    """The result of a probe that met an error: what it was, and how far the probe got."""
    kind = errors.classify(exc)
    result: dict[str, Any] = {
        "strategy": choice.strategy.slug,
        "backend_pid": None,
        "backend_start": None,
        "worker_pid": _worker_pid,
        "thread": threading.current_thread().name,
        "new_backend": False,
        # Everything until the error: the wait for a connection that never came, say.
        "wait_ms": _ms(time.perf_counter() - start),
        "connect_ms": None,
        "check_ms": check_ms,
        "query_ms": None,
        "at": _iso(asked_at),
        "asked_at": asked_at,
        "error": {"kind": kind.kind, "title": kind.title, "message": str(exc)},
    }
    if ready is not None:  # connected; the query failed
        result["connect_ms"] = _ms(conn.acquired.connect_s)
        result["opened"] = conn.acquired.opened
        result["acquired_at"] = asked_at + (ready - start)
    return result


# A served probe's answer has one shape, so it is written straight into this template: the
# general JSON encoder, deciding each value's type in turn, took about twice as long in a
# demo worker, and the probe is the demo servers' whole job. Failed probes use the encoder.
# Floats and integers print as JSON numbers with str(); strings go through the encoder.
_SERVED = (
    '{{"strategy":{},"backend_pid":{},"backend_start":{},"worker_pid":{},"thread":{},'
    '"new_backend":{},"wait_ms":{},"connect_ms":{},"check_ms":{},"query_ms":{},"at":"{}",'
    '"asked_at":{},"opened":{},"acquired_at":{},"released_at":{},"closed":{}}}'
).format
_BOOL = {True: "true", False: "false"}
_encode = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
# Strategy slugs, thread names and backend start times recur: each is encoded once.
_string = functools.lru_cache(maxsize=1024)(_encode)


def answer(result: dict[str, Any]) -> bytes:
    """A probe's result as the JSON its view answers."""
    if "error" in result:
        return _encode(result).encode()
    r = result
    return _SERVED(
        _string(r["strategy"]), r["backend_pid"], _string(r["backend_start"]),
        r["worker_pid"], _string(r["thread"]), _BOOL[r["new_backend"]], r["wait_ms"],
        r["connect_ms"], r["check_ms"], r["query_ms"], r["at"], r["asked_at"],
        _BOOL[r["opened"]], r["acquired_at"], r["released_at"], _BOOL[r["closed"]],
    ).encode()  # fmt: skip


def probe(choice: aliases.Choice, hold_ms: int, work_ms: int = 0) -> dict[str, Any]:
    """Check out the choice's alias, measure, release; say whether the release closed it."""
    with (held := aliases.checkout(choice)):
        result = measure(held.wrapper, choice, hold_ms, work_ms)
    raw = result.pop("raw", None)
    result["released_at"] = time.time()
    result["closed"] = bool(raw is not None and raw.closed)
    return result


def stats(choice: aliases.Choice) -> dict[str, Any]:
    """The pool's own view in this process, and the connections that went away unseen,
    asked for once a run is over."""
    gone = dict(list(_gone))
    pool = None
    for alias in aliases.live():
        if alias.choice == choice:
            wrapper = aliases.wrapper_of(alias.name)
            pool = choice.strategy.pool.stats(wrapper) if wrapper else None
    return {"worker_pid": os.getpid(), "pool": pool, "gone": gone}
