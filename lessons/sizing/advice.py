"""Warnings a learner can act on: overcommit with the setting that fits, a pool out of step
with the threads, PgBouncer's client limit and session mode's queue."""

from __future__ import annotations

from .deployment import Deployment, per_process_words

# Past this share of what is available, a deploy that briefly runs old and new workers
# side by side, a migration or a psql session no longer fit.
NEAR_LIMIT = 0.8


def warnings(
    d: Deployment, per_process: int, total: int, clients: dict[str, int] | None
) -> list[str]:
    """Plain sentences a learner can act on, most serious first."""
    found = [_limit(d, per_process, total), *_pool_vs_threads(d, per_process)]
    if clients:
        found += [_client_limit(clients), _session_mode(d, clients)]
    if d.reserved_connections:
        found.append(
            "reserved_connections exists from PostgreSQL 16 on; PostgreSQL 15 and older refuse "
            "to start with it in postgresql.conf, so set it to 0 there."
        )
    return [w for w in found if w]


def _limit(d: Deployment, per_process: int, total: int) -> str | None:
    available = f"{d.available} (max_connections {d.max_connections} minus {d.reserved} reserved)"
    if total > d.available:
        return (
            f"Overcommitted: this deployment may open {total} connections but PostgreSQL lets "
            f"ordinary roles open {available}. At peak load connection {d.available + 1} fails "
            'with "sorry, too many clients already" or "remaining connection slots are '
            f'reserved". {_fix(d, per_process, total)}'
        )
    if total > NEAR_LIMIT * d.available:
        return (
            f"Close to the limit: {total} of the {available} connections. A deploy that starts "
            "new workers before the old ones stop, a migration, a cron job or a psql session "
            "needs room too: keep a margin."
        )
    return None


def _fix(d: Deployment, per_process: int, total: int) -> str:
    """The largest setting that fits, for the knob this strategy sizes by."""
    raise_it = f"or raise max_connections to at least {total + d.reserved}."
    if d.strategy.pgbouncer_mode:
        fits = d.available // d.pgbouncer_instances - d.pgbouncer_reserve_pool
        knob = "pgbouncer_pool_size (plus pgbouncer_reserve_pool)"
        if fits < 1:
            return f"Run fewer PgBouncers, {raise_it}"
        return f"Lower {knob} to {fits} per PgBouncer, {raise_it}"
    fits = d.available // d.processes
    if fits < 1:
        return (
            f"Even one connection per worker is too many: {d.processes} worker processes for "
            f"{d.available} connections. Run fewer workers or instances, put PgBouncer in "
            f"front, {raise_it}"
        )
    if d.strategy.size_param is None:
        return (
            f"Lower threads to {fits} per worker, or use a pool capped at {fits} per worker "
            f"(native-pool max_size), or put PgBouncer in front, {raise_it}"
        )
    now = per_process_words(d, per_process)
    return f"Lower what each worker may hold (now {now}) to {fits}, {raise_it}"


def _pool_vs_threads(d: Deployment, per_process: int) -> list[str]:
    if d.strategy.size_param is None or d.strategy.pgbouncer_mode:
        return []  # a connection per thread: always exactly enough
    size_param, timeout = d.strategy.size_param, d.params.get("timeout")
    if per_process < d.threads:
        return [
            f"Each worker runs {d.threads} threads but may hold only {per_process} connections: "
            f"when more than {per_process} of its requests need the database at once, the "
            f"others wait (up to timeout, {timeout} s) and then fail. Make it {d.threads}."
        ]
    if per_process > d.threads:
        return [
            f"Each worker holds up to {per_process} connections but runs only {d.threads} "
            f"threads, and a thread uses one connection at a time: {per_process - d.threads} "
            f"of them take PostgreSQL slots for nothing. Set {size_param} to {d.threads}."
        ]
    return []


def _client_limit(clients: dict[str, int]) -> str | None:
    default, need = clients["max_client_conn_default"], clients["per_pgbouncer"]
    if need <= default:
        return None
    return (
        f"Django opens up to {need} client connections to each PgBouncer, more than its "
        f"default max_client_conn of {default}: the rest would be refused. The pgbouncer.ini "
        f"here sets max_client_conn = {clients['max_client_conn']}; keep that line, and let "
        "PgBouncer open that many files (ulimit -n, LimitNOFILE in systemd)."
    )


def _session_mode(d: Deployment, clients: dict[str, int]) -> str | None:
    servers = d.params[d.strategy.size_param or ""] + d.pgbouncer_reserve_pool
    if d.strategy.pgbouncer_mode != "session" or clients["per_pgbouncer"] <= servers:
        return None
    return (
        f"Session mode gives each Django connection a server connection until it disconnects: "
        f"{clients['per_pgbouncer']} Django threads share {servers} per PgBouncer, so the others "
        "wait (query_wait_timeout, 120 s) and then fail. Use transaction mode, or a PgBouncer "
        f"pool_size of {clients['per_pgbouncer']}, or fewer threads."
    )
