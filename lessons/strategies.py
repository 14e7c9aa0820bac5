"""The one registry of pooling strategies.

Each strategy is listed once: its parameters, how it becomes a Django
`DATABASES` entry, how many connections one demo worker process may open with
it, and whether it is available here. Probe, runs, monitor, lessons and the
API all read this module; nothing else names a strategy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import lab, pools
from .backends import STOPWATCH
from .boundary import Conflict, NotFound
from .params import BadInput, Param, ensure_known, parse_all

Params = dict[str, Any]


@dataclass(frozen=True)
class Strategy:
    slug: str
    title: str
    lesson: str
    summary: str
    params: tuple[Param, ...]
    # Turns chosen parameters into the DATABASES entry (without the shared base).
    configure: Callable[[Params], dict[str, Any]]
    # The most connections one process of `threads` threads can hold with these parameters.
    per_process: Callable[[Params, int], int]
    # The parameter that sets the size, named in budget and sizing messages.
    size_param: str | None = None
    # The PgBouncer pool mode Django goes through, or None when it talks to PostgreSQL.
    pgbouncer_mode: str | None = None
    # The pool inside the Django process: its statistics and how to close it.
    pool: pools.Pool = pools.NONE
    # Where the lab's own alias connects, beyond `configure` (a learner's settings would
    # name their own server): the lab's PgBouncer.
    route: Callable[[Params], dict[str, Any]] = field(default=lambda params: {})
    # Why the strategy cannot run here, or None when it can.
    unavailable: Callable[[], str | None] = field(default=lambda: None)
    # Cross-parameter rules, raising BadInput.
    validate: Callable[[Params], None] = field(default=lambda params: None)

    @property
    def application_name(self) -> str:
        return f"pooling-lab:{self.slug}"

    def application_name_for(self, owner: str) -> str:
        """pooling-lab:<slug>, plus the learner's tag: whose connection it is."""
        return f"{self.application_name}:{owner}" if owner else self.application_name

    def parse(self, raw: dict[str, Any]) -> Params:
        ensure_known({p.name for p in self.params}, raw, self.slug)
        params = parse_all(self.params, raw)
        self.validate(params)
        return params

    def database(self, params: Params, owner: str = "", server: str | None = None) -> dict:
        """The lab's alias for these parameters: the learner's engine, with a stopwatch."""
        entry = {**lab.demo_database(server), **self.configure(params), **self.route(params)}
        entry["ENGINE"] = STOPWATCH[entry["ENGINE"]]
        options = entry.setdefault("OPTIONS", {})
        options["application_name"] = self.application_name_for(owner)
        return entry

    def per_process_max(self, params: Params, threads: int | None = None) -> int:
        """Connections one process may hold (the lab's demo threads unless given)."""
        return self.per_process(params, lab.wsgi_threads() if threads is None else threads)

    def server_connections(self, params: Params, processes: int, threads: int) -> int:
        """The most PostgreSQL connections this choice can open across `processes` processes.

        Behind PgBouncer, Django's connections are PgBouncer's clients; PostgreSQL sees
        only PgBouncer's pool, shared by every process.
        """
        if self.pgbouncer_mode:
            return params["pool_size"]
        return processes * self.per_process(params, threads)

    def describe(self) -> dict[str, Any]:
        reason = self.unavailable()
        return {
            "slug": self.slug,
            "title": self.title,
            "lesson": self.lesson,
            "summary": self.summary,
            "available": reason is None,
            "reason": reason,
            "params": {p.name: p.describe() for p in self.params},
        }


def _threads(params: Params, threads: int) -> int:
    # Django keeps one connection per thread: a worker holds at most one per thread.
    return threads


def _persistent(params: Params) -> dict[str, Any]:
    return {
        "CONN_MAX_AGE": params["conn_max_age"],
        "CONN_HEALTH_CHECKS": params["health_checks"],
    }


def _lab_pgbouncer(mode: str, params: Params) -> dict[str, Any]:
    """In the lab, Django -> the lab's PgBouncer: the database of the chosen mode and size."""
    bouncer = lab.pgbouncer() or {}
    cfg = lab.config()
    return {
        "HOST": bouncer.get("host", ""),
        "PORT": bouncer.get("port", ""),
        "NAME": f"pooling_lab_{mode}_p{params['pool_size']}",
        # PgBouncer's clients log in as the role PgBouncer itself uses, so that its
        # max_user_connections caps every pool together.
        "USER": cfg["BOUNCER_ROLE"],
        "PASSWORD": cfg["BOUNCER_PASSWORD"],
        # A client's first login waits while PgBouncer opens a server for a new pool.
        "OPTIONS": {"connect_timeout": 10},
    }


def _native_pool(params: Params) -> dict[str, Any]:
    pool = {k: params[k] for k in ("min_size", "max_size", "timeout", "max_idle", "max_lifetime")}
    return {
        "CONN_MAX_AGE": params["conn_max_age"],
        # With health checks on, Django gives the pool check=ConnectionPool.check_connection.
        "CONN_HEALTH_CHECKS": params["health_checks"],
        "OPTIONS": {"pool": pool},
    }


def _native_pool_rules(params: Params) -> None:
    if params["min_size"] > params["max_size"]:
        raise BadInput(
            "min_size",
            f"min_size ({params['min_size']}) must not be above max_size ({params['max_size']})",
            f"0 to max_size ({params['max_size']})",
        )


def _dbcp(params: Params) -> dict[str, Any]:
    return {
        "ENGINE": "dj_db_conn_pool.backends.postgresql",
        "POOL_OPTIONS": {
            "POOL_SIZE": params["pool_size"],
            "MAX_OVERFLOW": params["max_overflow"],
            "RECYCLE": params["recycle"],
            "TIMEOUT": params["timeout"],
        },
    }


def _pgbouncer_missing() -> str | None:
    if lab.pgbouncer():
        return None
    return (
        "PgBouncer is not running in this lab: its binary was not found when the lab "
        "started. Install it (Debian/Ubuntu: sudo apt-get install pgbouncer; macOS: "
        "brew install pgbouncer), or point PGBOUNCER_BIN at it, then restart the lab with "
        "uv run manage.py tutorial."
    )


POOL_SIZE_MAX = 20
# PgBouncer's pool size is server configuration: the lab's PgBouncer has one database per
# size and mode, so a learner's choice picks a database rather than rewriting the file.
PGBOUNCER_POOL_MAX = 8


def _pgbouncer(mode: str, default_size: int, summary: str) -> Strategy:
    """Django -> PgBouncer with pool_mode=`mode`; PgBouncer holds the server connections."""
    return Strategy(
        slug=f"pgbouncer-{mode}",
        title=f"PgBouncer, {mode} mode",
        lesson="pgbouncer-modes",
        summary=summary,
        params=(
            Param(
                "pool_size",
                "int",
                default_size,
                1,
                PGBOUNCER_POOL_MAX,
                "PgBouncer's pool_size: server connections for this database and user.",
            ),
            Param(
                "conn_max_age",
                "int",
                0,
                0,
                600,
                "Django's CONN_MAX_AGE on top: keep the client connection to PgBouncer.",
            ),
        ),
        configure=lambda params: {"CONN_MAX_AGE": params["conn_max_age"]},
        route=lambda params: _lab_pgbouncer(mode, params),
        # Django opens one client connection per thread, to PgBouncer.
        per_process=_threads,
        size_param="pool_size",
        pgbouncer_mode=mode,
        unavailable=_pgbouncer_missing,
    )


# fmt: off
# A table, kept one parameter to a line.
STRATEGIES: dict[str, Strategy] = {
    s.slug: s
    for s in [
        Strategy(
            slug="no-pool",
            title="No pooling",
            lesson="no-pooling",
            summary="CONN_MAX_AGE = 0: a new connection for every request (Django's default).",
            params=(),
            configure=lambda params: {"CONN_MAX_AGE": 0},
            per_process=_threads,
        ),
        Strategy(
            slug="persistent",
            title="Persistent connections",
            lesson="persistent-connections",
            summary="CONN_MAX_AGE = N: each thread keeps its connection for N seconds.",
            params=(
                Param("conn_max_age", "seconds_or_none", 60, 0, 3600,
                      "Seconds a connection is kept; none keeps it without limit."),
                Param("health_checks", "bool", False,
                      help="CONN_HEALTH_CHECKS: test a reused connection once per request."),
            ),
            configure=_persistent,
            per_process=_threads,
        ),
        Strategy(
            slug="native-pool",
            title="Django's native pool",
            lesson="native-pool",
            summary='OPTIONS["pool"]: one psycopg_pool ConnectionPool per worker process.',
            params=(
                Param("min_size", "int", 2, 0, POOL_SIZE_MAX,
                      "Connections the pool opens and keeps."),
                Param("max_size", "int", 4, 1, POOL_SIZE_MAX, "Most connections the pool holds."),
                Param("timeout", "float", 5.0, 0.1, 30,
                      "Seconds a request waits for a free connection before PoolTimeout."),
                Param("max_idle", "float", 600, 1, 3600,
                      "Seconds an idle connection above min_size is kept."),
                Param("max_lifetime", "float", 3600, 1, 7200,
                      "Seconds before a connection is replaced (with up to 5 % jitter)."),
                Param("conn_max_age", "int", 0, 0, 600,
                      "CONN_MAX_AGE: anything but 0 makes Django refuse the pool."),
                Param("health_checks", "bool", False,
                      help="CONN_HEALTH_CHECKS: the pool checks a connection before "
                      "handing it over (psycopg_pool's check_connection)."),
            ),
            configure=_native_pool,
            per_process=lambda params, threads: params["max_size"],
            size_param="max_size",
            pool=pools.PSYCOPG,
            validate=_native_pool_rules,
        ),
        Strategy(
            slug="dbcp",
            title="django-db-connection-pool",
            lesson="django-db-connection-pool",
            summary="dj_db_conn_pool: one SQLAlchemy QueuePool per worker process.",
            params=(
                Param("pool_size", "int", 4, 1, POOL_SIZE_MAX,
                      "POOL_SIZE: connections the QueuePool keeps."),
                Param("max_overflow", "int", 2, 0, POOL_SIZE_MAX,
                      "MAX_OVERFLOW: extra connections opened under load, closed on return."),
                Param("recycle", "int", 900, 1, 7200,
                      "RECYCLE: seconds before a connection is replaced."),
                Param("timeout", "float", 5.0, 0.1, 30,
                      "TIMEOUT: seconds a request waits before the QueuePool gives up."),
            ),
            configure=_dbcp,
            per_process=lambda params, threads: params["pool_size"] + params["max_overflow"],
            size_param="pool_size",
            pool=pools.QUEUE,
        ),
        _pgbouncer("session", 4, "Django connects to PgBouncer; a server connection stays with "
                                 "its client."),
        _pgbouncer("transaction", 2, "Server connections are shared, one transaction at a time."),
    ]
}
# fmt: on


class UnknownStrategy(NotFound):
    def __init__(self, slug: str) -> None:
        super().__init__(
            f"there is no strategy {slug!r}", field="strategy", allowed=sorted(STRATEGIES)
        )
        self.slug = slug


class Unavailable(Conflict):
    def __init__(self, reason: str) -> None:
        super().__init__(reason, field="strategy", extra={"reason": reason})


def get(slug: str) -> Strategy:
    try:
        return STRATEGIES[slug]
    except (KeyError, TypeError):
        raise UnknownStrategy(str(slug)) from None


def from_field(value: Any) -> Strategy:
    """The strategy a request names in its `strategy` field: 400 when missing, 404 unknown."""
    if not isinstance(value, str) or not value:
        raise BadInput("strategy", "strategy is required", sorted(STRATEGIES))
    return get(value)


def get_available(slug: str) -> Strategy:
    strategy = get(slug)
    reason = strategy.unavailable()
    if reason:
        raise Unavailable(reason)
    return strategy
