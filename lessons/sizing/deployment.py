"""A deployment as a learner describes it, validated field by field.

The fields are the registry's own parameters of the chosen strategy (with bounds wide
enough for a real deployment) plus the shape of the deployment: instances, workers,
threads, PgBouncers, and what PostgreSQL allows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from .. import strategies
from ..params import BadInput, Param
from ..strategies import Params, Strategy

# PostgreSQL's own ceiling for max_connections (MAX_BACKENDS).
PG_MAX_CONNECTIONS = 262_143
PGBOUNCER_VERSIONS = tuple(f"1.{minor}" for minor in range(18, 26))
DEFAULT_PGBOUNCER_VERSION = "1.24"
# fmt: off
SHARED = (
    Param("instances", "int", 1, 1, 1000, "App instances (hosts, containers) with these settings."),
    Param("workers", "int", 2, 1, 1000, "gunicorn worker processes per instance."),
    Param("threads", "int", 4, 1, 1000, "Threads per worker: requests served at once."),
    Param("superuser_reserved_connections", "int", 3, 0, 10_000,
          "Connection slots PostgreSQL keeps for superusers."),
    Param("reserved_connections", "int", 0, 0, 10_000,
          "PostgreSQL 16+: slots kept for roles with pg_use_reserved_connections."),
)
PGBOUNCER_SHARED = (
    Param("pgbouncer_instances", "int", 1, 1, 100,
          "PgBouncer processes; each has its own pools."),
    Param("pgbouncer_reserve_pool", "int", 0, 0, 1000,
          "reserve_pool_size: extra server connections for a client that waited too long."),
)
# fmt: on
VERSION_FIELD = "pgbouncer_version"
# The lab's bounds keep its demos inside its budget; a real deployment is bigger.
WIDER_MAX = {
    "min_size": 1000,
    "max_size": 1000,
    "pool_size": 1000,
    "max_overflow": 1000,
    "conn_max_age": 86_400,
}
# A field left blank that takes another's value: a fixed-size pool by default.
DERIVED_DEFAULTS = {"min_size": "max_size"}


@dataclass(frozen=True)
class Deployment:
    """A validated description of a deployment (see `parse`)."""

    strategy: Strategy
    params: Params  # the strategy's own parameters, under their registry names
    instances: int
    workers: int
    threads: int
    max_connections: int
    superuser_reserved_connections: int = 3
    reserved_connections: int = 0
    pgbouncer_instances: int = 1
    pgbouncer_reserve_pool: int = 0
    pgbouncer_version: str = DEFAULT_PGBOUNCER_VERSION
    ignored: tuple[str, ...] = ()

    @property
    def processes(self) -> int:
        return self.instances * self.workers

    @property
    def reserved(self) -> int:
        return self.superuser_reserved_connections + self.reserved_connections

    @property
    def available(self) -> int:
        return self.max_connections - self.reserved


def field_name(strategy: Strategy, name: str) -> str:
    """The calculator's name for a registry parameter.

    Behind PgBouncer the registry's size is PgBouncer's pool: the name says so.
    """
    return f"pgbouncer_{name}" if strategy.pgbouncer_mode and name == strategy.size_param else name


def strategy_fields(strategy: Strategy) -> dict[str, Param]:
    """The calculator's fields for `strategy` (besides strategy, max_connections, version)."""
    own = {}
    for param in strategy.params:
        name = field_name(strategy, param.name)
        own[name] = replace(param, name=name, max=WIDER_MAX.get(param.name, param.max))
    shared = SHARED + (PGBOUNCER_SHARED if strategy.pgbouncer_mode else ())
    return {**{p.name: p for p in shared}, **own}


def known_fields() -> list[str]:
    names = {"strategy", "max_connections", VERSION_FIELD}
    for strategy in strategies.STRATEGIES.values():
        names |= set(strategy_fields(strategy))
    return sorted(names)


def parse(
    raw: Mapping[str, Any], *, max_connections: int, pgbouncer_version: str | None = None
) -> Deployment:
    """Validate a learner's fields (query string or JSON), raising BadInput naming the field.

    `max_connections` is the live server's, the default of the field of that name;
    `pgbouncer_version` is the lab's PgBouncer, if any, the default version. Fields of other
    strategies (a form sends them all) are not used and come back in `ignored`.
    """
    unknown = [name for name in raw if name not in known_fields()]
    if unknown:
        message = f"the sizing calculator has no field {unknown[0]!r}"
        raise BadInput(unknown[0], message, known_fields())
    strategy = _strategy(raw.get("strategy"))
    fields = strategy_fields(strategy)
    values = {name: param.parse(raw.get(name)) for name, param in fields.items()}
    for name, source in DERIVED_DEFAULTS.items():
        if name in values and raw.get(name) in (None, ""):
            values[name] = values[source]
    params = {p.name: values[field_name(strategy, p.name)] for p in strategy.params}
    strategy.validate(params)
    used = {"strategy", "max_connections", *fields}
    if strategy.pgbouncer_mode:
        used.add(VERSION_FIELD)
        values[VERSION_FIELD] = _version(raw.get(VERSION_FIELD), pgbouncer_version)
    limit = Param("max_connections", "int", max_connections, 1, PG_MAX_CONNECTIONS)
    deployment = Deployment(
        strategy=strategy,
        params=params,
        max_connections=limit.parse(raw.get("max_connections")),
        ignored=tuple(sorted(k for k, v in raw.items() if k not in used and v not in (None, ""))),
        **{k: v for k, v in values.items() if k not in fields_of(strategy)},
    )
    _check_reserved(deployment)
    _check_pool_age(deployment)
    return deployment


def fields_of(strategy: Strategy) -> set[str]:
    """Field names that carry the strategy's own parameters."""
    return {field_name(strategy, p.name) for p in strategy.params}


def _strategy(slug: Any) -> Strategy:
    try:
        return strategies.get(str(slug or ""))
    except strategies.UnknownStrategy:
        allowed = sorted(strategies.STRATEGIES)
        message = f"strategy must be one of {', '.join(allowed)}"
        raise BadInput("strategy", message, allowed) from None


def _version(raw: Any, lab_version: str | None) -> str:
    """A PgBouncer version from 1.18 to 1.25; a patch level (1.24.1) is accepted and dropped."""
    if raw in (None, ""):
        return _minor(lab_version) or DEFAULT_PGBOUNCER_VERSION
    version = _minor(str(raw))
    if version is None:
        allowed = f"{PGBOUNCER_VERSIONS[0]} to {PGBOUNCER_VERSIONS[-1]}, e.g. 1.18 or 1.24.1"
        raise BadInput(VERSION_FIELD, f"{VERSION_FIELD} must be {allowed}", allowed)
    return version


def _minor(text: str | None) -> str | None:
    match = re.fullmatch(r"\s*(1\.\d+)(?:\.\d+)?\s*", text or "")
    return match.group(1) if match and match.group(1) in PGBOUNCER_VERSIONS else None


def _check_reserved(d: Deployment) -> None:
    # PostgreSQL refuses to start otherwise (postmaster.c).
    if d.reserved >= d.max_connections:
        most = max(d.max_connections - 1 - d.reserved_connections, 0)
        raise BadInput(
            "superuser_reserved_connections",
            f"superuser_reserved_connections ({d.superuser_reserved_connections}) plus "
            f"reserved_connections ({d.reserved_connections}) must be less than "
            f"max_connections ({d.max_connections})",
            f"0 to {most}",
        )


def _check_pool_age(d: Deployment) -> None:
    """Refuse what Django itself would refuse to load."""
    entry = d.strategy.configure(d.params)
    if entry.get("OPTIONS", {}).get("pool") and entry.get("CONN_MAX_AGE", 0) != 0:
        raise BadInput(
            "conn_max_age",
            'Django refuses OPTIONS["pool"] with a CONN_MAX_AGE other than 0 ("Pooling '
            "doesn't support persistent connections\"): the pool keeps the connections",
            0,
        )


def count(n: int, word: str) -> str:
    """ "1 instance", "2 instances"."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def per_process_words(d: Deployment, per_process: int) -> str:
    """What one worker process holds, in words."""
    size_param = d.strategy.size_param
    if d.strategy.pgbouncer_mode or size_param is None:
        return f"{count(d.threads, 'thread')} (a connection each)"
    size = d.params[size_param]
    if size == per_process:
        return f"{size_param} {size}"
    return f"({size_param} {size} + up to {per_process - size} more under load)"
