"""Live database aliases for the learners' chosen parameters, in one process.

A choice of strategy and parameters becomes a Django database alias, added to
`connections.settings` so that Django's own request cycle (close_old_connections
on request_started/finished) manages it exactly as it would a configured one.
Aliases are bounded: the least recently used idle one is closed to make room,
and together they stay inside this worker's share of the connection budget.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connections
from django.db.backends.signals import connection_created

from . import budget, lab
from .strategies import Params, Strategy


def _idle_seconds() -> float:
    # An alias nobody used for this long is closed, returning its connections.
    return lab.config()["ALIAS_IDLE_SECONDS"]


class LabBusy(RuntimeError):
    """No room for another alias right now (HTTP 409); the message says why."""


@dataclass
class LiveAlias:
    name: str
    strategy: Strategy
    params: Params
    size: int
    in_use: int = 0
    last_used: float = field(default_factory=time.monotonic)
    # Every DatabaseWrapper made for this alias, in any thread, so that closing
    # the alias can close thread-local persistent connections too.
    wrappers: weakref.WeakSet = field(default_factory=weakref.WeakSet)


_lock = threading.Lock()
_live: OrderedDict[str, LiveAlias] = OrderedDict()
_generation = 0


def _key(strategy: Strategy, params: Params) -> str:
    blob = json.dumps([strategy.slug, params], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


@contextmanager
def checkout(strategy: Strategy, params: Params) -> Iterator[str]:
    """Yield the alias name for this choice, keeping it from eviction meanwhile."""
    with _lock:
        alias = _live.get(_key(strategy, params)) or _add(strategy, params)
        alias.in_use += 1
        alias.last_used = time.monotonic()
        _live.move_to_end(_key(strategy, params))
    try:
        yield alias.name
    finally:
        with _lock:
            alias.in_use -= 1
            alias.last_used = time.monotonic()


def _add(strategy: Strategy, params: Params) -> LiveAlias:
    global _generation
    size = strategy.per_process_max(params)
    _start_sweeper()
    share = budget.share_per_worker()
    while _live and (len(_live) >= lab.config()["MAX_LIVE_ALIASES"] or _held() + size > share):
        if not _evict_one():
            raise LabBusy(
                f"The lab is at its connection budget ({lab.connection_budget()} connections, "
                f"{share} per worker) with other demos still running. Try again in a moment."
            )
    _generation += 1
    name = f"lab_{strategy.slug.replace('-', '_')}_{_key(strategy, params)}_{_generation}"
    alias = LiveAlias(name=name, strategy=strategy, params=params, size=size)
    # Copy-on-write: requests in other threads may be iterating the old dict
    # (close_old_connections does), and must never see it change under them.
    entry = strategy.database(params)
    connections.configure_settings({"default": {}, name: entry})  # fills Django's defaults
    connections.__dict__["settings"] = {**connections.settings, name: entry}
    _live[_key(strategy, params)] = alias
    return alias


def _held() -> int:
    return sum(a.size for a in _live.values())


def _evict_one() -> bool:
    for key, alias in _live.items():
        if alias.in_use == 0:
            del _live[key]
            _close(alias)
            return True
    return False


_sweeper: threading.Thread | None = None


def _start_sweeper() -> None:
    """Close idle aliases in the background, so connections go back even when no one asks."""
    global _sweeper
    if _sweeper is None:
        _sweeper = threading.Thread(target=_sweep_forever, name="alias-sweeper", daemon=True)
        _sweeper.start()


def _sweep_forever() -> None:
    while True:
        time.sleep(min(1.0, _idle_seconds() / 4))
        with _lock:
            _close_idle(older_than=_idle_seconds())


def _close_idle(older_than: float) -> None:
    now = time.monotonic()
    for key, alias in list(_live.items()):
        if alias.in_use == 0 and now - alias.last_used > older_than:
            del _live[key]
            _close(alias)


def _close(alias: LiveAlias) -> None:
    settings = dict(connections.settings)
    settings.pop(alias.name, None)
    connections.__dict__["settings"] = settings
    for wrapper in list(alias.wrappers):
        close_wrapper(wrapper)


def close_wrapper(wrapper) -> None:
    """Close one alias's connection or pool, whichever thread opened it."""
    from dj_db_conn_pool.core import pool_container
    from django.db.backends.postgresql.base import DatabaseWrapper

    pool = DatabaseWrapper._connection_pools.pop(wrapper.alias, None)
    if pool is not None:
        pool.close()
    with pool_container.lock:
        queue_pool = pool_container.pop(wrapper.alias, None)
    if queue_pool is not None:
        queue_pool.dispose()
    raw = wrapper.connection
    if raw is not None and pool is None and queue_pool is None:
        # The owning thread is idle (in_use was 0); psycopg connections are
        # safe to close from another thread.
        raw.close()


def close_all() -> None:
    """Close every live alias (at shutdown and in tests)."""
    with _lock:
        while _live:
            _close(_live.popitem(last=False)[1])


def live() -> list[LiveAlias]:
    with _lock:
        return list(_live.values())


def _track(sender, connection, **kwargs) -> None:
    for alias in list(_live.values()):
        if alias.name == connection.alias:
            alias.wrappers.add(connection)


connection_created.connect(_track)
