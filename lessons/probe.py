"""One probe: take a connection the way the strategy does, ask for the backend PID.

The probe is the demo servers' whole job, so its hot path does only what a learner needs
to see: parameters are parsed once per distinct query string, a connection's start time is
read once per connection, and a pool's statistics are asked for separately, after a run.
"""

from __future__ import annotations

import functools
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
    return round(seconds * 1000, 3)


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
    result: dict[str, Any] = {
        "strategy": choice.strategy.slug,
        "backend_pid": None,
        "backend_start": None,
        "worker_pid": os.getpid(),
        "thread": threading.current_thread().name,
        "new_backend": False,
        "wait_ms": None,
        "connect_ms": None,
        "check_ms": 0.0,
        "query_ms": None,
        "at": datetime.now(UTC).isoformat(),
        "asked_at": time.time(),
    }
    conn.acquired = NOTHING_YET
    start = time.perf_counter()
    had_connection = conn.connection is not None
    try:
        # What Django does first in cursor(): with CONN_HEALTH_CHECKS, test a reused
        # connection (and drop it if dead), so that a reconnect shows in connect_ms.
        conn.close_if_health_check_failed()
        checked = time.perf_counter()
        conn.ensure_connection()
        ready = time.perf_counter()
        acquired = conn.acquired
        if had_connection:
            result["check_ms"] = _ms(checked - start)
        result["wait_ms"] = _ms(acquired.wait_s)
        result["connect_ms"] = _ms(acquired.connect_s)
        result["opened"] = acquired.opened
        result["acquired_at"] = result["asked_at"] + (ready - start)
        raw = _driver(conn.connection)
        with conn.cursor() as cursor:
            pid, backend_start, new = _query(cursor, raw, choice, hold_ms)
        result["query_ms"] = _ms(time.perf_counter() - ready)
    except Exception as exc:
        kind = errors.classify(exc)
        result["error"] = {"kind": kind.kind, "title": kind.title, "message": str(exc)}
        result["wait_ms"] = _ms(time.perf_counter() - start)
        return result
    if work_ms:
        time.sleep(work_ms / 1000)  # other work; Django still holds the connection
    result["backend_pid"] = pid
    result["backend_start"] = backend_start
    result["new_backend"] = new
    result["raw"] = raw
    return result


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
