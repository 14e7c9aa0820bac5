"""The totals: a deployment multiplied out the way the registry says each strategy holds
connections, set against what PostgreSQL lets ordinary roles open."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from . import advice, files
from .deployment import (
    PGBOUNCER_SHARED,
    SHARED,
    VERSION_FIELD,
    Deployment,
    count,
    field_name,
    parse,
    per_process_words,
)


def calculate(d: Deployment) -> dict[str, Any]:
    """The answer of GET /api/sizing for a parsed deployment."""
    per_process = d.strategy.per_process(d.params, d.threads)
    total = d.strategy.server_connections(d.params, d.processes, d.threads)
    clients = None
    if d.strategy.pgbouncer_mode:
        # The registry counts one PgBouncer's pool; each PgBouncer process has its own,
        # and its reserve on top.
        total = (total + d.pgbouncer_reserve_pool) * d.pgbouncer_instances
        clients = client_connections(d, per_process)
    explained = breakdown(d, per_process, total)
    return {
        "strategy": d.strategy.slug,
        "inputs": inputs(d),
        "ignored": list(d.ignored),
        "total_server_connections": total,
        "max_connections": d.max_connections,
        "reserved": d.reserved,
        "available": d.available,
        "overcommitted": total > d.available,
        "headroom": d.available - total,
        "over_by": max(total - d.available, 0),
        "per_process": per_process,
        "per_instance": d.workers * per_process,
        "client_connections": clients,
        "breakdown": explained,
        "warnings": advice.warnings(d, per_process, total, clients),
        "files": files.files(d, per_process, explained["words"]),
    }


def size(
    raw: Mapping[str, Any], *, max_connections: int, pgbouncer_version: str | None = None
) -> dict[str, Any]:
    """parse + calculate: the whole answer for a learner's fields."""
    deployment = parse(raw, max_connections=max_connections, pgbouncer_version=pgbouncer_version)
    return calculate(deployment)


def client_connections(d: Deployment, per_process: int) -> dict[str, int]:
    """Django's connections to PgBouncer, against PgBouncer's max_client_conn."""
    total = d.processes * per_process
    per_bouncer = math.ceil(total / d.pgbouncer_instances)
    return {
        "total": total,
        "per_pgbouncer": per_bouncer,
        "max_client_conn": files.max_client_conn(per_bouncer),
        "max_client_conn_default": files.MAX_CLIENT_CONN_DEFAULT,
    }


def inputs(d: Deployment) -> dict[str, Any]:
    """Every field's value as used, under the calculator's field names."""
    shared = {p.name: getattr(d, p.name) for p in SHARED}
    if d.strategy.pgbouncer_mode:
        shared |= {p.name: getattr(d, p.name) for p in PGBOUNCER_SHARED}
        shared[VERSION_FIELD] = d.pgbouncer_version
    own = {field_name(d.strategy, k): v for k, v in d.params.items()}
    return {"strategy": d.strategy.slug, "max_connections": d.max_connections, **shared, **own}


def breakdown(d: Deployment, per_process: int, total: int) -> dict[str, Any]:
    """How the total was multiplied, in words and in numbers."""
    django = " x ".join(
        [
            count(d.instances, "instance"),
            count(d.workers, "worker"),
            per_process_words(d, per_process),
        ]
    )
    if not d.strategy.pgbouncer_mode:
        factors = {"instances": d.instances, "workers": d.workers, "per_process": per_process}
        words = f"{django} = {total} PostgreSQL connections"
    else:
        pool = d.params[d.strategy.size_param or ""]
        factors = {
            "pgbouncer_instances": d.pgbouncer_instances,
            "pgbouncer_pool_size": pool,
            "pgbouncer_reserve_pool": d.pgbouncer_reserve_pool,
        }
        words = (
            f"{count(d.pgbouncer_instances, 'PgBouncer')} x (pool_size {pool} + reserve "
            f"{d.pgbouncer_reserve_pool}) = {total} PostgreSQL connections. Django: {django} = "
            f"{d.processes * per_process} client connections to PgBouncer"
        )
    return {
        "words": words,
        "factors": [{"name": name, "value": value} for name, value in factors.items()],
        "total": total,
    }
