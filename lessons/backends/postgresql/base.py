"""Django's PostgreSQL backend with a stopwatch on connect() (see lessons.backends)."""

from __future__ import annotations

import time

from django.db.backends.postgresql import base

from .. import Acquired


class DatabaseWrapper(base.DatabaseWrapper):
    acquired = Acquired()

    def connect(self) -> None:
        start = time.perf_counter()
        try:
            super().connect()
        finally:
            elapsed = time.perf_counter() - start
            if self.pool is None:
                # Without a pool, this thread opened the connection itself.
                self.acquired = Acquired(connect_s=elapsed, opened=True)
            else:
                # psycopg_pool opens connections in its own threads: the request waits.
                self.acquired = Acquired(wait_s=elapsed)
