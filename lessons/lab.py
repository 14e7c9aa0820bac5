"""How the lab is set up: demo servers, demo roles, PgBouncer and the connection budget."""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from django.db import connections


def config() -> dict[str, Any]:
    return settings.LAB


def wsgi_workers() -> int:
    return config()["WSGI_WORKERS"]


def wsgi_threads() -> int:
    return config()["WSGI_THREADS"]


def pgbouncer() -> dict[str, Any] | None:
    """The PgBouncer the lab talks to (managed or external), or None."""
    return config().get("PGBOUNCER")


def demo_server() -> str:
    """Which demo server this process is ("wsgi" or "asgi"); the site says "wsgi"."""
    return config().get("SERVER", "wsgi")


def server_url(server: str) -> str:
    return config()["ASGI_URL" if server == "asgi" else "WSGI_URL"]


@functools.cache
def server_facts() -> dict[str, Any]:
    """PostgreSQL's version, max_connections and reserved slots, read once per process."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('server_version'), current_setting('max_connections')::int,"
            " current_setting('superuser_reserved_connections')::int,"
            " coalesce(current_setting('reserved_connections', true), '0')::int"
        )
        version, max_connections, superuser_reserved, reserved = cursor.fetchone()
    return {
        "version": version,
        "max_connections": max_connections,
        "superuser_reserved_connections": superuser_reserved,
        "reserved_connections": reserved,
    }


def connection_budget() -> int:
    """What all demo connections together may hold: by default half of max_connections."""
    return config()["CONNECTION_BUDGET"] or server_facts()["max_connections"] // 2


def budget_slices(budget: int | None = None) -> dict[str, int]:
    """The budget split between the demo roles; PostgreSQL enforces each slice.

    The ASGI demo server gets a slice of its own because its pile-up is fast and real:
    it must meet its own role's limit, never the WSGI demos'. PgBouncer's server
    connections get a small slice: multiplexing is the point of its lessons.
    """
    total = connection_budget() if budget is None else budget
    bouncer = max(2, min(8, total // 6))
    asgi = max(2, min(16, total // 4))
    return {"wsgi": total - asgi - bouncer, "asgi": asgi, "pgbouncer": bouncer}


def role_for(server: str) -> tuple[str, str]:
    """The role (and password) a demo server's connections log in as."""
    cfg = config()
    if server == "asgi" and cfg["ASGI_ROLE"] and cfg["DEMO_ROLE"]:
        return cfg["ASGI_ROLE"], cfg["ASGI_PASSWORD"]
    return cfg["DEMO_ROLE"], cfg["DEMO_PASSWORD"]


def demo_database(server: str | None = None) -> dict[str, Any]:
    """The connection settings every demo alias starts from.

    Demo connections log in as their server's own role when the lab could create it,
    so PostgreSQL itself enforces the budget with the role's CONNECTION LIMIT.
    """
    base = settings.DATABASES["default"]
    role, password = role_for(server or demo_server())
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": base["NAME"],
        "HOST": base["HOST"],
        "PORT": base["PORT"],
        "USER": role or base["USER"],
        "PASSWORD": password if role else base["PASSWORD"],
    }


def conninfo(db: dict[str, Any], application_name: str) -> str:
    """A libpq connection string for a Django database entry, for raw psycopg use."""
    from psycopg.conninfo import make_conninfo

    keys = {
        "dbname": "NAME",
        "user": "USER",
        "password": "PASSWORD",
        "host": "HOST",
        "port": "PORT",
    }
    parts = {k: str(db[v]) for k, v in keys.items() if db.get(v)}
    return make_conninfo(**parts, application_name=application_name, connect_timeout=5)


def site_conninfo(application_name: str = "pooling-lab:site") -> str:
    return conninfo(settings.DATABASES["default"], application_name)


def describe() -> dict[str, Any]:
    """GET /api/lab: the servers the demos really run on, and the budget."""
    cfg = config()
    bouncer = pgbouncer()
    return {
        "wsgi": {
            "server": "gunicorn (gthread)",
            "workers": cfg["WSGI_WORKERS"],
            "threads": cfg["WSGI_THREADS"],
            "url": cfg["WSGI_URL"],
        },
        "asgi": {"server": "uvicorn", "workers": cfg["ASGI_WORKERS"], "url": cfg["ASGI_URL"]}
        if cfg["ASGI_URL"]
        else None,
        "postgres": server_facts(),
        "pgbouncer": {
            "version": bouncer["version"],
            "managed": bouncer["managed"],
            "pool_modes": ["session", "transaction"],
            "pool_sizes": [1, 8],
            "default_pool_size": 2,
        }
        if bouncer
        else None,
        "connection_budget": connection_budget(),
        "budget_slices": budget_slices(),
        "demo_role": cfg["DEMO_ROLE"] or None,
        "runs": {
            "max_requests": cfg["MAX_RUN_REQUESTS"],
            "max_concurrency": cfg["MAX_RUN_CONCURRENCY"],
            "max_hold_seconds": cfg["MAX_RUN_HOLD_SECONDS"],
            "parallel": cfg["MAX_PARALLEL_RUNS"],
        },
    }
