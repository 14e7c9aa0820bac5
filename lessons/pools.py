"""What differs between the pools a strategy can use: their statistics and how to close them.

The registry gives each strategy one of these, so that aliases, probes and runs never need
to know psycopg_pool or SQLAlchemy themselves.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ImproperlyConfigured


class Pool:
    """No pool in the process: each thread's wrapper holds its own connection (or none)."""

    kind = "none"

    def stats(self, wrapper) -> dict[str, Any] | None:
        return None

    def close(self, alias: str, wrappers: Iterable) -> None:
        """Close a detached alias's connections; no request is using it any more."""
        for wrapper in wrappers:
            raw = wrapper.connection
            if raw is not None:
                # Kept connections of idle threads. DatabaseWrapper.close() refuses to run
                # outside its thread; an idle psycopg connection may be closed from any.
                raw.close()


class PsycopgPool(Pool):
    """Django's native pool: one psycopg_pool ConnectionPool per alias per process."""

    kind = "psycopg_pool"

    def stats(self, wrapper) -> dict[str, Any] | None:
        try:
            pool = wrapper.pool
        except ImproperlyConfigured:
            return None  # a configuration Django refused: it never had a pool
        if pool is None:
            return None
        # Keys whose value is 0 may be missing (FACTS): the caller reads with defaults.
        return {"kind": self.kind, **pool.get_stats()}

    def close(self, alias: str, wrappers: Iterable) -> None:
        for wrapper in wrappers:
            # A configuration Django refused (a pool with CONN_MAX_AGE) never had a pool:
            # asking for it raises the same ImproperlyConfigured again.
            with contextlib.suppress(ImproperlyConfigured):
                wrapper.close_pool()  # Django's public API; the pool is shared by the wrappers
            return


class QueuePool(Pool):
    """django-db-connection-pool: one SQLAlchemy QueuePool per alias per process."""

    kind = "QueuePool"

    def _pool(self, alias: str):
        from dj_db_conn_pool.core import pool_container

        return pool_container.get(alias) if pool_container.has(alias) else None

    def stats(self, wrapper) -> dict[str, Any] | None:
        pool = self._pool(wrapper.alias)
        if pool is None:
            return None
        return {
            "kind": self.kind,
            "size": pool.size(),
            "checked_out": pool.checkedout(),
            "overflow": pool.overflow(),
            "checked_in": pool.checkedin(),
        }

    def close(self, alias: str, wrappers: Iterable) -> None:
        from dj_db_conn_pool.core import pool_container

        with pool_container.lock:
            pool = pool_container.pop(alias, None)
        if pool is not None:
            pool.dispose()


NONE = Pool()
PSYCOPG = PsycopgPool()
QUEUE = QueuePool()
