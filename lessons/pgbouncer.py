"""PgBouncer's admin console: what its pools, clients and server connections are doing.

The console (`dbname=pgbouncer`) speaks only the simple query protocol, so every
command goes through psycopg's ClientCursor with autocommit. Each call opens its
own short connection: the console is cheap and a dead PgBouncer is noticed at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg.rows import dict_row

from .services.pgbouncer_config import lab_databases, parse_database

POOL_FIELDS = (
    "database",
    "pool_mode",
    "cl_active",
    "cl_waiting",
    "sv_active",
    "sv_idle",
    "sv_used",
    "maxwait",
    "maxwait_us",
)
# ptr and link pair them up: a client's link is the ptr of the server it holds.
CLIENT_FIELDS = ("database", "state", "addr", "port", "ptr", "link", "application_name")
SERVER_FIELDS = ("database", "state", "remote_pid", "ptr", "link")


class PgBouncerUnavailable(RuntimeError):
    """The admin console did not answer (PgBouncer down, refused, or the command failed)."""


@dataclass(frozen=True)
class AdminConsole:
    host: str = "127.0.0.1"
    port: int = 6432
    user: str = "pooling_lab_admin"
    password: str = ""
    # libpq's smallest useful value: a PgBouncer that is down is refused at once
    # anyway; this bounds one that is hung.
    connect_timeout: int = 2

    @classmethod
    def from_url(cls, url: str) -> AdminConsole:
        """From postgresql://user:password@host:port/pgbouncer (the path is ignored)."""
        parts = urlsplit(url)
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 6432,
            user=unquote(parts.username or "pooling_lab_admin"),
            password=unquote(parts.password or ""),
        )

    def _connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(
                host=self.host,
                port=self.port,
                dbname="pgbouncer",
                user=self.user,
                password=self.password,
                connect_timeout=self.connect_timeout,
                autocommit=True,
                cursor_factory=psycopg.ClientCursor,
                row_factory=dict_row,
            )
        except psycopg.Error as exc:
            raise PgBouncerUnavailable(
                f"PgBouncer's admin console at {self.host}:{self.port} did not answer: "
                f"{_first_line(exc)}"
            ) from exc

    def _run(self, *commands: str) -> list[list[dict[str, Any]]]:
        """Run console commands on one connection; each gives its rows (or [])."""
        results = []
        with self._connect() as conn:
            for command in commands:
                try:
                    cur = conn.execute(command)
                except psycopg.Error as exc:
                    raise PgBouncerUnavailable(
                        f"PgBouncer refused {command!r}: {_first_line(exc)}"
                    ) from exc
                results.append(cur.fetchall() if cur.description else [])
        return results

    def show(self, what: str) -> list[dict[str, Any]]:
        """SHOW POOLS / CLIENTS / SERVERS / DATABASES / STATS, columns as PgBouncer names them."""
        if what.upper() not in {"POOLS", "CLIENTS", "SERVERS", "DATABASES", "STATS", "VERSION"}:
            raise ValueError(f"not a SHOW the lab reads: {what!r}")
        return self._run(f"SHOW {what.upper()}")[0]

    def pools(self) -> list[dict[str, Any]]:
        return self.show("POOLS")

    def clients(self) -> list[dict[str, Any]]:
        return self.show("CLIENTS")

    def servers(self) -> list[dict[str, Any]]:
        return self.show("SERVERS")

    def version(self) -> str:
        """The running version, as "1.18.0" (SHOW VERSION says "PgBouncer 1.18.0")."""
        text = self._run("SHOW VERSION")[0][0]["version"]
        return text.split()[-1]

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """The lab's pools, clients and servers, with only what a learner reads.

        PgBouncer lists a pool only once a client has used its database.
        """
        pools, clients, servers = self._run("SHOW POOLS", "SHOW CLIENTS", "SHOW SERVERS")
        ours = set(lab_databases())
        out = {
            "pools": [_pick(row, POOL_FIELDS) for row in pools if row["database"] in ours],
            "clients": [_pick(row, CLIENT_FIELDS) for row in clients if row["database"] in ours],
            "servers": [_pick(row, SERVER_FIELDS) for row in servers if row["database"] in ours],
        }
        for pool in out["pools"]:
            pool["maxwait_ms"] = pool["maxwait"] * 1000 + pool["maxwait_us"] / 1000
        for key in out:
            out[key].sort(key=lambda row: row["database"])
        return out

    def kill_database(self, database: str, resume: bool = True) -> None:
        """KILL: drop every client and server connection of `database` now.

        KILL leaves the database paused (new clients wait until RESUME), so it is
        resumed at once unless `resume` is False.
        """
        name = _lab_database(database)
        self._run(f"KILL {name}", *([f"RESUME {name}"] if resume else []))

    def resume(self, database: str) -> None:
        self._run(f"RESUME {_lab_database(database)}")

    def reconnect(self, database: str | None = None) -> None:
        """RECONNECT: close the servers of `database` (or all) as soon as each is released."""
        self._run("RECONNECT" if database is None else f"RECONNECT {_lab_database(database)}")


def _pick(row: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    picked = {name: row.get(name) for name in fields}
    if "link" in picked:
        picked["link"] = picked["link"] or None  # "" when not linked
    return picked


def _lab_database(name: str) -> str:
    # Console commands take no parameters: only the lab's own names are spliced in.
    if parse_database(name) is None:
        raise ValueError(f"not one of the lab's PgBouncer databases: {name!r}")
    return name


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def console() -> AdminConsole | None:
    """The admin console of the PgBouncer the lab uses (managed or PGBOUNCER_URL), or None."""
    from . import lab

    bouncer = lab.pgbouncer()
    if not bouncer:
        return None
    return AdminConsole(
        host=bouncer["host"],
        port=bouncer["port"],
        user=bouncer["admin_user"] or "pooling_lab_admin",
        password=bouncer["admin_password"],
    )
