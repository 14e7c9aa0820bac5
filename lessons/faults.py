"""What the lab does to demo connections from the server's side.

Kill a learner's backends of one strategy (a failover, as an administrator would), close
a configuration's connections before a fresh run, reset a learner's lab. Only the
learner's own demo connections are ever touched: their application_name carries the
learner's tag and they log in as a demo role, never as the site's user.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import connection

from . import lab
from .models import Learner
from .strategies import PGBOUNCER_POOL_MAX, STRATEGIES, Strategy

log = logging.getLogger(__name__)


def demo_roles() -> list[str]:
    cfg = lab.config()
    return [role for role in (cfg["DEMO_ROLE"], cfg["ASGI_ROLE"], cfg["BOUNCER_ROLE"]) if role]


def terminate(strategy: Strategy, owner: str) -> list[int]:
    """Kill one learner's backends of one strategy; waits up to 2 s for each to exit."""
    if not owner:
        return []
    roles = demo_roles()
    # Choose the PIDs first, then kill exactly those: in one statement PostgreSQL may
    # call pg_terminate_backend() before it has applied the other conditions.
    query = "SELECT pid FROM pg_stat_activity WHERE application_name = %s" + (
        " AND usename = ANY(%s)" if roles else ""
    )
    with connection.cursor() as cursor:
        cursor.execute(query, [strategy.application_name_for(owner), *([roles] if roles else [])])
        pids = [pid for (pid,) in cursor.fetchall()]
        if not pids:
            return []
        cursor.execute(
            "SELECT pid FROM unnest(%s::int[]) AS pid WHERE pg_terminate_backend(pid, 2000)",
            [pids],
        )
        return sorted(pid for (pid,) in cursor.fetchall())


def _pgbouncer_reconnect(mode: str) -> None:
    """Close PgBouncer's idle server connections of this mode (RECONNECT, per database)."""
    from . import pgbouncer

    console = pgbouncer.console()
    for size in range(1, PGBOUNCER_POOL_MAX + 1):
        console.reconnect(f"pooling_lab_{mode}_p{size}")


def close_for_fresh(strategy: Strategy, params: dict[str, Any], owner: str) -> None:
    """Before a fresh run: no connection of the learner's earlier runs may serve it.

    The run already uses a new epoch, so the demo servers open new connections for it;
    closing the old ones makes the monitor and the budget show only this run's.
    """
    if strategy.pgbouncer_mode:
        try:
            _pgbouncer_reconnect(strategy.pgbouncer_mode)
        except Exception:  # PgBouncer down: the run itself will say so, request by request
            log.warning("fresh run: PgBouncer's RECONNECT failed", exc_info=True)
        return
    terminate(strategy, owner)


def reset(learner: Learner) -> list[int]:
    """'Reset my lab': new connections for every configuration, the old ones closed."""
    Learner.objects.filter(pk=learner.pk).update(epoch=learner.epoch + 1, epochs={})
    killed: list[int] = []
    for strategy in STRATEGIES.values():
        if not strategy.pgbouncer_mode:
            killed += terminate(strategy, learner.tag)
    return killed


def release_pinned(strategy: Strategy, params: dict[str, Any], learner: Learner) -> None:
    """After a session-mode run with kept Django connections: give PgBouncer's servers back.

    Each kept client connection holds a server connection of PgBouncer's small shared
    slice for as long as it lives; left alone it would keep every other learner's
    PgBouncer demo waiting. KILL drops the database's clients (only this run was using
    PgBouncer: the queue runs one PgBouncer run at a time), and the learner's next run of
    this configuration starts on new connections rather than the killed ones.
    """
    if strategy.pgbouncer_mode != "session" or not params.get("conn_max_age"):
        return
    from . import pgbouncer
    from .runs.create import config_tag

    try:
        pgbouncer.console().kill_database(f"pooling_lab_session_p{params['pool_size']}")
    except pgbouncer.PgBouncerUnavailable:
        log.warning("could not release PgBouncer's session servers", exc_info=True)
    tag = config_tag(strategy, params)
    learner.refresh_from_db(fields=["epochs"])
    learner.epochs = {**learner.epochs, tag: learner.epochs.get(tag, 0) + 1}
    learner.save(update_fields=["epochs"])
