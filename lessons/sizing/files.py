"""The files a sized deployment runs with: settings.py, gunicorn.conf.py and pgbouncer.ini.

Each is text a learner copies, with comments that say why each line is there. The
`DATABASES` entry comes from the registry's `configure`, so the file says exactly what the
lab's own demos run. pgbouncer.ini is written for the PgBouncer version the learner names:
keys came and were renamed between 1.18 and 1.25.
"""

from __future__ import annotations

import json
import math
import textwrap
from dataclasses import dataclass
from typing import Any

from .deployment import Deployment, count

MAX_CLIENT_CONN_DEFAULT = 100
GUNICORN_TIMEOUT = 30
# The database name Django asks PgBouncer for: a key of pgbouncer.ini's [databases].
PGBOUNCER_DATABASE = "app"
# PgBouncer 1.21 added max_prepared_statements (1.18 refuses to start with it); 1.24
# renamed the per-database reserve_pool to reserve_pool_size, keeping the old name too.
PREPARED_STATEMENTS_SINCE = 21
RESERVE_POOL_SIZE_SINCE = 24
MODE_NOTES = {
    "session": "; session: a server connection stays with its client until it disconnects.",
    "transaction": "; transaction: a server connection per transaction. Session state (SET,\n"
    "; LISTEN, advisory locks, WITH HOLD cursors) does not outlive a transaction:\n"
    "; settings.py sets DISABLE_SERVER_SIDE_CURSORS for Django's .iterator().",
}


@dataclass(frozen=True)
class Env:
    """A setting read from the environment when the settings module loads."""

    var: str
    default: str

    def __repr__(self) -> str:
        return f"os.environ.get({json.dumps(self.var)}, {json.dumps(self.default)})"


def max_client_conn(clients_per_bouncer: int) -> int:
    # Twice Django's most: a deploy briefly runs old and new workers side by side.
    return max(MAX_CLIENT_CONN_DEFAULT, 2 * clients_per_bouncer)


def files(d: Deployment, per_process: int, summary: str) -> dict[str, str]:
    """The generated files by name; pgbouncer.ini only behind PgBouncer."""
    out = {
        "settings.py": settings_py(d, summary),
        "gunicorn.conf.py": gunicorn_conf(d, per_process, summary),
    }
    if d.strategy.pgbouncer_mode:
        out["pgbouncer.ini"] = pgbouncer_ini(d, per_process)
    return out


def database_entry(d: Deployment) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": Env("PGDATABASE", "app"),
        "USER": Env("PGUSER", "app"),
        "PASSWORD": Env("PGPASSWORD", ""),
        "HOST": Env("PGHOST", "127.0.0.1"),
        "PORT": Env("PGPORT", "5432"),
    }
    if d.strategy.pgbouncer_mode:
        entry["NAME"] = PGBOUNCER_DATABASE
        entry["HOST"] = Env("PGBOUNCER_HOST", "127.0.0.1")
        entry["PORT"] = Env("PGBOUNCER_PORT", "6432")
    entry |= d.strategy.configure(d.params)
    if d.strategy.pgbouncer_mode == "transaction":
        entry["DISABLE_SERVER_SIDE_CURSORS"] = True
    return entry


def _docstring(title: str, summary: str, *more: str) -> str:
    lines = [title, "", *textwrap.wrap(summary, 88)]
    for paragraph in more:
        lines += ["", *textwrap.wrap(paragraph, 88)]
    return '"""' + "\n".join(lines) + '\n"""\n'


def settings_py(d: Deployment, summary: str) -> str:
    entry = database_entry(d)
    names = ", ".join(v.var for v in entry.values() if isinstance(v, Env))
    head = _docstring(
        f"Django DATABASES for {d.strategy.title}: from Pooling Lab's sizing calculator.",
        summary,
        f"Connection details come from the environment ({names}); the PG names are libpq's.",
    )
    body = _render(entry, d, depth=2)
    return f'{head}\nimport os\n\nDATABASES = {{\n    "default": {{\n{body}\n    }},\n}}\n'


def _render(mapping: dict[str, Any], d: Deployment, depth: int) -> str:
    pad = "    " * depth
    lines = []
    for key, value in mapping.items():
        note = _note(key, value, d)
        lines += [f"{pad}# {line}" for line in textwrap.wrap(note or "", 88 - len(pad))]
        if isinstance(value, dict):
            inner = _render(value, d, depth + 1)
            lines += [f"{pad}{json.dumps(key)}: {{", inner, f"{pad}}},"]
        else:
            literal = json.dumps(value) if isinstance(value, str) else repr(value)
            lines.append(f"{pad}{json.dumps(key)}: {literal},")
    return "\n".join(lines)


# Why a setting has its value: the comment above it in settings.py.
NOTES = {
    "pool": "One psycopg_pool ConnectionPool per worker process: PostgreSQL sees workers x "
    "max_size connections from each instance.",
    "timeout": "Seconds a request waits for a free connection before it fails; below "
    "gunicorn's timeout, so the error is clear rather than a killed worker.",
    "max_lifetime": "Seconds before a connection is replaced (with up to 5 % jitter).",
    "POOL_OPTIONS": "One SQLAlchemy QueuePool per worker process: POOL_SIZE kept open, up to "
    "MAX_OVERFLOW more under load, closed again when returned.",
    "RECYCLE": "Seconds before a connection is replaced.",
    "TIMEOUT": "Seconds a request waits for a connection before SQLAlchemy's TimeoutError "
    "(QueuePool limit ... reached), which Django does not wrap.",
    "DISABLE_SERVER_SIDE_CURSORS": "Transaction pooling: .iterator()'s server-side cursor "
    "would outlive its transaction and fail (InvalidCursorName) on another server connection.",
}
PGBOUNCER_NOTES = {
    "NAME": "The database name in pgbouncer.ini's [databases], not PostgreSQL's.",
    "HOST": "PgBouncer's address: Django is PgBouncer's client and never sees PostgreSQL.",
}


def _note(key: str, value: Any, d: Deployment) -> str | None:
    """Why a setting has its value, for the comment above it."""
    if d.strategy.pgbouncer_mode and key in PGBOUNCER_NOTES:
        return PGBOUNCER_NOTES[key]
    if key == "ENGINE" and "dj_db_conn_pool" in value:
        return "pip install 'django-db-connection-pool[postgresql]'"
    if key == "CONN_MAX_AGE":
        return _age_note(value, d)
    if key == "CONN_HEALTH_CHECKS" and value:
        return "Test a reused connection once per request: a dead one is replaced, not failed."
    if key == "CONN_HEALTH_CHECKS":
        return "Off: after a database restart the first request on each old connection fails."
    if key == "min_size" and value == d.params.get("max_size"):
        return "Equal to max_size: a fixed pool, opened once; no request pays to connect."
    if key == "max_size":
        return f"A thread uses one connection at a time: {d.threads} threads need {d.threads}."
    return NOTES.get(key)


def _age_note(value: Any, d: Deployment) -> str:
    if d.strategy.pgbouncer_mode:
        if not value:
            return (
                "0: a new connection to PgBouncer for each request, which is cheap; PgBouncer "
                "keeps the server connections."
            )
        return f"Keep each thread's connection to PgBouncer {value} s."
    if "pool" in d.strategy.configure(d.params).get("OPTIONS", {}):
        return "Must stay 0 with a pool: the pool keeps the connections."
    if value is None:
        return "Keep each thread's connection without limit (one per thread, per worker)."
    if value:
        return f"Keep each thread's connection {value} s, checked at each request's start and end."
    return "Django's default: a new connection for each request, closed at its end."


def gunicorn_conf(d: Deployment, per_process: int, summary: str) -> str:
    head = _docstring(
        f"gunicorn settings for {d.strategy.title}: from Pooling Lab's sizing calculator.",
        summary,
        "Run: gunicorn -c gunicorn.conf.py yourproject.wsgi",
    )
    pool_timeout = d.params.get("timeout")
    timeout = GUNICORN_TIMEOUT
    why = "Seconds before a silent worker is killed and replaced."
    if pool_timeout:
        timeout = max(GUNICORN_TIMEOUT, math.ceil(pool_timeout) + 10)
        why += (
            f" Above the pool's timeout ({pool_timeout} s), so a request that waits for a "
            "connection fails with a clear error instead."
        )
    comment = "\n".join(f"# {line}" for line in textwrap.wrap(why, 88))
    return f"""{head}
bind = "0.0.0.0:8000"
# Worker processes per instance: each holds up to {per_process} connections of its own.
workers = {d.workers}
# Requests each worker serves at once; Django keeps one connection per thread.
threads = {d.threads}
# A thread pool per worker. Not gevent or eventlet: every greenlet would keep its own
# connection, and their count has no limit.
worker_class = "gthread"
# Never load the app before forking: a connection or pool made in the parent would be
# shared by every worker (a psycopg_pool or a QueuePool must not cross a fork).
preload_app = False
{comment}
timeout = {timeout}
"""


def pgbouncer_ini(d: Deployment, per_process: int) -> str:
    minor = int(d.pgbouncer_version.split(".")[1])
    pool = d.params[d.strategy.size_param or ""]
    reserve = d.pgbouncer_reserve_pool
    reserve_key = "reserve_pool_size" if minor >= RESERVE_POOL_SIZE_SINCE else "reserve_pool"
    clients = math.ceil(d.processes * per_process / d.pgbouncer_instances)
    prepared = (
        "; Tracks protocol-level prepared statements across server connections. Django does not\n"
        "; prepare statements (prepare_threshold None); psycopg can from PgBouncer 1.22.\n"
        "max_prepared_statements = 200\n"
        if minor >= PREPARED_STATEMENTS_SINCE
        else "; No max_prepared_statements before 1.21: keep Django's prepare_threshold None.\n"
    )
    return f"""\
; pgbouncer.ini for PgBouncer {d.pgbouncer_version}, {d.strategy.pgbouncer_mode} mode: from \
Pooling Lab's sizing calculator.
; This PgBouncer opens at most {pool + reserve} server connections; \
{count(d.pgbouncer_instances, "PgBouncer")}: {(pool + reserve) * d.pgbouncer_instances}.

[databases]
; Django's NAME -> your PostgreSQL: set host, port and dbname to yours. PgBouncer logs in
; with the client's user and the password from auth_file. pool_size counts per database
; and user, per PgBouncer process; max_db_connections caps the database whatever the user.
; The per-database reserve is {reserve_key} in {d.pgbouncer_version} (up to 1.23:
; reserve_pool; from 1.24: reserve_pool_size, with reserve_pool kept as an alias).
{PGBOUNCER_DATABASE} = host=127.0.0.1 port=5432 dbname=app pool_size={pool} \
{reserve_key}={reserve} max_db_connections={pool + reserve}

[pgbouncer]
; Beside the app: loopback only. On a host of its own: its private address.
listen_addr = 127.0.0.1
listen_port = 6432
; auth_file lines read "user" "password": plain text or SCRAM secrets (not md5) under SCRAM.
auth_type = scram-sha-256
auth_file = /etc/pgbouncer/userlist.txt
{MODE_NOTES[d.strategy.pgbouncer_mode or ""]}
pool_mode = {d.strategy.pgbouncer_mode}
; The reserve opens only for a client that waited this long (seconds).
reserve_pool_timeout = 5
; Django opens up to {clients} client connections to this PgBouncer; twice that leaves
; room for a deploy. PgBouncer needs as many open files (ulimit -n).
max_client_conn = {max_client_conn(clients)}
; Server connections idle this long are closed (seconds).
server_idle_timeout = 600
{prepared}logfile = /var/log/postgresql/pgbouncer.log
pidfile = /var/run/postgresql/pgbouncer.pid
"""
