"""django-db-connection-pool's backend with a stopwatch (see lessons.backends)."""

from __future__ import annotations

import time

from dj_db_conn_pool.backends.postgresql import base

from .. import Acquired, opening


class DatabaseWrapper(base.DatabaseWrapper):
    acquired = Acquired()

    def _get_new_connection(self, conn_params):
        # Called by the QueuePool, in the requesting thread, when it opens a connection.
        start = time.perf_counter()
        try:
            return super()._get_new_connection(conn_params)
        finally:
            opening.seconds += time.perf_counter() - start
            opening.count += 1

    def connect(self) -> None:
        opening.seconds, opening.count = 0.0, 0
        start = time.perf_counter()
        try:
            super().connect()
        finally:
            elapsed = time.perf_counter() - start
            self.acquired = Acquired(
                wait_s=max(0.0, elapsed - opening.seconds),
                connect_s=opening.seconds,
                opened=opening.count > 0,
            )
