"""Live database aliases for the learners' chosen configurations, in one demo process.

A learner's choice of strategy and parameters becomes a Django database alias, added to
`connections.settings` so that Django's own request cycle (close_old_connections on
request_started/finished) manages it exactly as it would a configured one. Each learner
has aliases of their own (their `owner` tag), so one learner's connections never serve
another's runs; a new `epoch` (a fresh run, "reset my lab") means new connections.
Aliases are bounded: the least recently used idle one is closed to make room, and
together they stay inside this process's share of the connection budget.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field

from django.db import connections

from . import budget, lab
from .boundary import Conflict
from .strategies import Params, Strategy

log = logging.getLogger(__name__)


def _idle_seconds() -> float:
    # An alias nobody used for this long is closed, returning its connections.
    return lab.config()["ALIAS_IDLE_SECONDS"]


class LabBusy(Conflict):
    """No room for another alias right now; the message says why."""


@dataclass(frozen=True)
class Choice:
    """What a probe asks for: whose, which strategy and parameters, which generation."""

    strategy: Strategy
    params: Params
    owner: str = ""
    epoch: str = ""

    # Computed once per choice: the probe reuses its Choice for every request alike.
    @functools.cached_property
    def config_key(self) -> str:
        blob = json.dumps([self.owner, self.strategy.slug, self.params], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:10]

    @functools.cached_property
    def key(self) -> str:
        return f"{self.config_key}.{self.epoch}"


@dataclass
class LiveAlias:
    name: str
    choice: Choice
    size: int
    in_use: int = 0
    last_used: float = field(default_factory=time.monotonic)
    # Every DatabaseWrapper made for this alias, in any thread, so that closing
    # the alias can close thread-local persistent connections too.
    wrappers: weakref.WeakSet = field(default_factory=weakref.WeakSet)


_lock = threading.Lock()
_live: OrderedDict[str, LiveAlias] = OrderedDict()
_by_name: dict[str, LiveAlias] = {}
_generation = 0
# How many aliases have been detached so far: a thread checks its wrappers only when this
# moved since it last looked.
_detached = 0
# Alias names this thread has used, so that it can drop its wrappers of closed ones.
_touched = threading.local()


class checkout:
    """`with checkout(choice) as name:` the alias for this choice, kept from eviction
    meanwhile; `.wrapper` is this thread's DatabaseWrapper of it.

    A class, not a generator: it runs for every probe, and the probe is the demo servers'
    whole job.
    """

    __slots__ = ("_choice", "alias", "wrapper")

    def __init__(self, choice: Choice) -> None:
        self._choice = choice

    def __enter__(self) -> str:
        closing: list[LiveAlias] = []
        try:
            with _lock:
                alias = _live.get(self._choice.key) or _add(self._choice, closing)
                alias.in_use += 1
                alias.last_used = time.monotonic()
                _live.move_to_end(self._choice.key)
        finally:
            # Closing can wait on pool workers: never while holding the lock.
            for evicted in closing:
                _close_connections(evicted)
        self.alias = alias
        try:
            self.wrapper = wrapper = connections[alias.name]
        except Exception:
            _release(alias)  # never left in use: it could not be evicted again
            raise
        # Every wrapper of an alias, in any thread, is remembered once, so that closing the
        # alias can close thread-local persistent connections too.
        if wrapper.__dict__.get("_lab_alias") is not alias:
            wrapper._lab_alias = alias
            alias.wrappers.add(wrapper)
        return alias.name

    def __exit__(self, *exc_info) -> None:
        alias = self.alias
        try:
            # What request_finished would do, but now, in this thread: return a pooled
            # connection, close a no-pool one. Only then may another thread evict it.
            self.wrapper.close_if_unusable_or_obsolete()
            _forget_closed(alias.name)
        finally:
            _release(alias)


def _release(alias: LiveAlias) -> None:
    with _lock:
        alias.in_use -= 1
        alias.last_used = time.monotonic()


def _forget_closed(current: str) -> None:
    names = _touched.__dict__.setdefault("names", set())
    names.add(current)
    if _touched.__dict__.get("seen") == _detached:
        return  # no alias went away since this thread last looked: nothing to drop
    _touched.seen = _detached
    for name in list(names):
        if name not in connections.settings:
            names.discard(name)
            with contextlib.suppress(AttributeError):
                del connections[name]  # this thread's wrapper of an alias now closed


def _size(choice: Choice) -> int:
    # Behind PgBouncer, Django's connections are PgBouncer's clients: PostgreSQL's
    # budget is held by PgBouncer's pool, not by this process.
    if choice.strategy.pgbouncer_mode:
        return 0
    return choice.strategy.per_process_max(choice.params)


def _add(choice: Choice, closing: list[LiveAlias]) -> LiveAlias:
    global _generation
    _start_sweeper()
    # An older generation of the same configuration will never be used again.
    for old in [a for a in _live.values() if a.choice.config_key == choice.config_key]:
        if old.in_use == 0:
            closing.append(_detach(old))
    size = _size(choice)
    share = budget.share_per_worker()
    while _live and (len(_live) >= lab.config()["MAX_LIVE_ALIASES"] or _held() + size > share):
        idle = next((a for a in _live.values() if a.in_use == 0), None)
        if idle is None:
            raise LabBusy(
                f"The lab is at its connection budget ({lab.connection_budget()} connections, "
                f"{share} per worker) with other demos still running. Try again in a moment.",
                field="strategy",
            )
        closing.append(_detach(idle))
    _generation += 1
    name = f"lab_{choice.strategy.slug.replace('-', '_')}_{choice.config_key}_{_generation}"
    alias = LiveAlias(name=name, choice=choice, size=size)
    entry = choice.strategy.database(choice.params, choice.owner)
    connections.configure_settings({"default": {}, name: entry})  # fills Django's defaults
    # Copy-on-write: requests in other threads may be iterating the old dict
    # (close_old_connections does), and must never see it change under them.
    connections.__dict__["settings"] = {**connections.settings, name: entry}
    _live[choice.key] = alias
    _by_name[name] = alias
    return alias


def _held() -> int:
    return sum(a.size for a in _live.values())


def _detach(alias: LiveAlias) -> LiveAlias:
    """Take an alias out of use (under the lock); its connections close afterwards."""
    global _detached
    _detached += 1
    _live.pop(alias.choice.key, None)
    _by_name.pop(alias.name, None)
    settings = dict(connections.settings)
    settings.pop(alias.name, None)
    connections.__dict__["settings"] = settings
    return alias


_sweeper: threading.Thread | None = None


def _start_sweeper() -> None:
    """Close idle aliases in the background, so connections go back even when no one asks."""
    global _sweeper
    if _sweeper is None:
        _sweeper = threading.Thread(target=_sweep_forever, name="alias-sweeper", daemon=True)
        _sweeper.start()


def _sweep_forever() -> None:
    while True:
        time.sleep(max(0.25, min(1.0, _idle_seconds() / 4)))
        now = time.monotonic()
        with _lock:
            idle = [
                a for a in _live.values() if a.in_use == 0 and now - a.last_used > _idle_seconds()
            ]
            for alias in idle:
                _detach(alias)
        for alias in idle:
            _close_connections(alias)


def _close_connections(alias: LiveAlias) -> None:
    # Never let one alias's failure to close stop the sweeper or a request: log it.
    try:
        alias.choice.strategy.pool.close(alias.name, list(alias.wrappers))
    except Exception:
        log.exception("closing the connections of %s failed", alias.name)


def close_all(owner: str | None = None) -> int:
    """Close every idle alias, or one learner's (after an ASGI run, at shutdown, in tests)."""
    with _lock:
        detached = [
            _detach(a)
            for a in list(_live.values())
            if a.in_use == 0 and (owner is None or a.choice.owner == owner)
        ]
    for alias in detached:
        _close_connections(alias)
    return len(detached)


def live() -> list[LiveAlias]:
    with _lock:
        return list(_live.values())


def wrapper_of(alias_name: str):
    """Any wrapper made for this alias (to read its pool's statistics), or None."""
    alias = _by_name.get(alias_name)
    return next(iter(list(alias.wrappers)), None) if alias else None
