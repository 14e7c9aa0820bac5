"""The connection paths a pitfall is played through, as real Django database aliases.

A path is one of the registry's strategies with fixed, small parameters, so that the
interleaving is certain: Django's pool holds one connection, PgBouncer's pool one server
connection (or two, where a pitfall needs another client to hold one). Each play gets
aliases of its own, added to `connections.settings` the way `lessons.aliases` adds a
learner's: the pitfall's client (`alias`, with the settings the pitfall is about),
another client on the same path with Django's defaults (`other`), and a dedicated
connection straight to PostgreSQL (`direct`). All of them are closed afterwards, and
PgBouncer is told to replace the server connections the play used, so that whatever
state the pitfall left on them reaches neither the next play nor anyone else.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from django.db import connections

from .. import pgbouncer, strategies

log = logging.getLogger(__name__)

# The paths of the lesson's demo, in the order the lesson lists them.
VIAS = ("no-pool", "native-pool", "pgbouncer-session", "pgbouncer-transaction")
# Paths the API also takes: they behave like the native pool (the lesson says so).
MORE_VIAS = ("persistent", "dbcp")
ALL_VIAS = VIAS + MORE_VIAS

# Each path's parameters, beside PgBouncer's pool size (the pitfall chooses that).
FIXED: dict[str, dict[str, Any]] = {
    "no-pool": {},
    "persistent": {"conn_max_age": 60, "health_checks": False},
    "native-pool": {"min_size": 1, "max_size": 1, "timeout": 10},
    "dbcp": {"pool_size": 1, "max_overflow": 0, "timeout": 10},
    "pgbouncer-session": {"conn_max_age": 0},
    "pgbouncer-transaction": {"conn_max_age": 0},
}

Tweak = Callable[[dict[str, Any], bool], None]

_lock = threading.Lock()
_numbers = itertools.count(1)


@dataclass(frozen=True)
class Path:
    via: str
    strategy: strategies.Strategy
    params: dict[str, Any]
    alias: str
    other: str
    direct: str

    @property
    def setup(self) -> str:
        """The path in a few words, with the sizes that make the outcome certain."""
        if self.strategy.pgbouncer_mode:
            size = self.params["pool_size"]
            servers = "server connection" if size == 1 else "server connections"
            return f"PgBouncer, {self.strategy.pgbouncer_mode} mode, pool of {size} {servers}"
        if self.strategy.size_param:
            return f"{self.strategy.title}, one connection"
        return self.strategy.title


def params_for(via: str, pgbouncer_pool: int) -> dict[str, Any]:
    strategy = strategies.get(via)
    raw = dict(FIXED[via])
    if strategy.pgbouncer_mode:
        raw["pool_size"] = pgbouncer_pool
    return strategy.parse(raw)


def _add(name: str, entry: dict[str, Any]) -> None:
    connections.configure_settings({"default": {}, name: entry})  # fills Django's defaults
    with _lock:
        # Copy-on-write, as lessons.aliases does: other threads may be iterating it.
        connections.__dict__["settings"] = {**connections.settings, name: entry}


def _remove(names: list[str]) -> None:
    with _lock:
        kept = {k: v for k, v in connections.settings.items() if k not in names}
        connections.__dict__["settings"] = kept
    for name in names:
        with suppress(AttributeError):
            del connections[name]  # this thread's wrapper


def _reconnect(database: str) -> None:
    """Have PgBouncer replace this database's server connections once each is free."""
    console = pgbouncer.console()
    if console is None:
        return
    try:
        console.reconnect(database)
    except (pgbouncer.PgBouncerUnavailable, ValueError):
        # Without the admin console (an external PgBouncer) the play still runs; the
        # servers it uses may then carry an earlier play's state.
        log.warning("pitfall: PgBouncer's RECONNECT %s failed", database, exc_info=True)


@contextmanager
def open_path(via: str, pgbouncer_pool: int, tweak: Tweak, fix: bool, owner: str) -> Iterator[Path]:
    """Aliases for one play on `via`, closed (and PgBouncer's servers replaced) after."""
    strategy = strategies.get_available(via)
    params = params_for(via, pgbouncer_pool)
    number = next(_numbers)
    names = [f"pitfall_{number}_{role}" for role in ("a", "b", "direct")]
    entry = strategy.database(params, owner)
    tweak(entry, fix)
    direct = strategies.get("no-pool")
    entries = [entry, strategy.database(params, owner), direct.database({}, owner)]
    for name, settings_entry in zip(names, entries, strict=True):
        _add(name, settings_entry)
    database = entry["NAME"] if strategy.pgbouncer_mode else None
    if database:
        _reconnect(database)
    try:
        yield Path(via, strategy, params, *names)
    finally:
        for name, owner_strategy in zip(names, [strategy, strategy, direct], strict=True):
            # The clients closed their own connections; this closes the pools themselves.
            owner_strategy.pool.close(name, [connections[name]])
        _remove(names)
        if database:
            _reconnect(database)
