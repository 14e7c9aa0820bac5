"""Database backends for the demo connections: Django's own, plus a stopwatch.

A probe must report the wait for a pool apart from the time spent opening a connection.
Only the backend knows which is which: without a pool, `connect()` opens the connection in
the request's thread; with psycopg_pool, the pool's own threads open connections and the
request only waits; with django-db-connection-pool, a QueuePool opens one in the request's
thread when it is below its size and otherwise waits. Each backend records, per
connect(), the seconds it waited and the seconds it spent opening a connection itself.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(slots=True)  # not frozen: a frozen dataclass is slower to make, once per connect
class Acquired:
    wait_s: float = 0.0
    connect_s: float = 0.0
    # This thread opened the physical connection during this connect().
    opened: bool = False


# What a probe sets before it asks for a connection: reused as is, nothing to allocate.
NOTHING_YET = Acquired()


class _Opening(threading.local):
    seconds: float = 0.0
    count: int = 0


opening = _Opening()


# The engine a learner configures -> the same engine with the stopwatch, for the lab's own
# demo connections.
STOPWATCH = {
    "django.db.backends.postgresql": "lessons.backends.postgresql",
    "dj_db_conn_pool.backends.postgresql": "lessons.backends.dbcp",
}
