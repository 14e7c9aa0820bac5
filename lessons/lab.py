"""How the lab is set up: demo servers, demo role and the connection budget."""

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


@functools.cache
def server_facts() -> dict[str, Any]:
    """PostgreSQL's version and max_connections, read once per process."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
        cursor.execute("SHOW max_connections")
        max_connections = int(cursor.fetchone()[0])
    return {"version": version, "max_connections": max_connections}


def connection_budget() -> int:
    """What all demo connections together may hold: by default half of max_connections."""
    return config()["CONNECTION_BUDGET"] or server_facts()["max_connections"] // 2


def demo_database() -> dict[str, Any]:
    """The connection settings every demo alias starts from.

    Demo connections log in as their own role when the lab could create it, so
    PostgreSQL itself enforces the budget with the role's CONNECTION LIMIT.
    """
    base = settings.DATABASES["default"]
    role = config()["DEMO_ROLE"]
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": base["NAME"],
        "HOST": base["HOST"],
        "PORT": base["PORT"],
        "USER": role or base["USER"],
        "PASSWORD": config()["DEMO_PASSWORD"] if role else base["PASSWORD"],
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
