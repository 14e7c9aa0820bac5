"""listen: LISTEN through a connection path, NOTIFY from another client.

Client A (the listener) runs LISTEN and waits; client B (another client on the same
path) sends NOTIFY on that channel and commits. In transaction mode with one server, B's
NOTIFY runs on the very server whose session registered A's LISTEN, so PostgreSQL
delivers the notification to that session, and PgBouncer passes it to the client linked
to it at that moment: B. A, idle and linked to no server, never gets it. With the fix,
A listens on a dedicated connection straight to PostgreSQL and gets it on every path.
"""

from __future__ import annotations

import threading
import uuid

from django.db import connections

from .cycle import Seen, backend_pid, execute, one_row, request, together, wait
from .paths import Path

# How long the listener waits, after a round trip, for a notification that was sent and
# committed: one that was delivered is already there.
WAIT_SECONDS = 0.5


def _listener(alias: str, channel: str, listening: threading.Event, sent: threading.Event):
    try:
        with request():
            execute(alias, f"LISTEN {channel}")
            pid = backend_pid(alias)
            listening.set()
            wait(sent, "the notification")
            # A round trip first: PostgreSQL sends a pending notification before the
            # query's ReadyForQuery, and psycopg keeps it for notifies(), so one that was
            # delivered is seen at once, however busy the machine.
            execute(alias, "SELECT 1")
            raw = connections[alias].connection  # psycopg's connection: its notifies()
            got = [n.payload for n in raw.notifies(timeout=WAIT_SECONDS, stop_after=1)]
            execute(alias, f"UNLISTEN {channel}")
            return pid, got
    finally:
        listening.set()


def _notifier(alias: str, channel: str, listening: threading.Event, sent: threading.Event):
    wait(listening, "the LISTEN")
    try:
        with request():
            wrapper = connections[alias]
            wrapper.ensure_connection()
            own: list[str] = []
            wrapper.connection.add_notify_handler(lambda n: own.append(n.payload))
            _, pid = one_row(
                alias, "SELECT pg_notify(%s, %s), pg_backend_pid()", [channel, "hello"]
            )
            return pid, own
    finally:
        sent.set()


def play(path: Path, fix: bool) -> Seen:
    channel = f"pitfall_{uuid.uuid4().hex[:12]}"
    listening, sent = threading.Event(), threading.Event()
    listener_alias = path.direct if fix else path.alias
    seen = together(
        a=lambda: _listener(listener_alias, channel, listening, sent),
        b=lambda: _notifier(path.other, channel, listening, sent),
    )
    (pid, got), (other_pid, own) = seen["a"], seen["b"]
    where = "a dedicated direct connection" if fix else "the path's connection"
    opening = (
        f"Client 1 ran LISTEN {channel} on {where} (backend {pid}); client 2 sent NOTIFY "
        f"on backend {other_pid} and committed"
    )
    if got:
        return Seen(broke=False, observed=f"{opening}; the listener received it.")
    stray = " It was delivered to client 2 itself instead." if own else ""
    return Seen(
        broke=True,
        observed=f"{opening}; the listener received nothing, neither with its next query nor "
        f"in the {WAIT_SECONDS:g} s after.{stray}",
    )
