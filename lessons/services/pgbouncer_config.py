"""What the managed PgBouncer is told: `pgbouncer.ini` and its `auth_file`.

One database entry per pool mode and pool size: a learner's choice of pool size
picks a database, because PgBouncer's pool size is server configuration, not
something a client can ask for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

MODES = ("session", "transaction")
POOL_SIZES = tuple(range(1, 9))
# The versions where a key the lab writes first exists.
PREPARED_STATEMENTS_SINCE = (1, 21)

_DATABASE = re.compile(r"^pooling_lab_(session|transaction)_p([1-9][0-9]*)$")


def database_name(mode: str, pool_size: int) -> str:
    """The PgBouncer database that pools in `mode` with `pool_size` server connections."""
    if mode not in MODES:
        raise ValueError(f"pool mode must be one of {', '.join(MODES)}, not {mode!r}")
    if pool_size not in POOL_SIZES:
        raise ValueError(f"pool size must be {POOL_SIZES[0]}..{POOL_SIZES[-1]}, not {pool_size!r}")
    return f"pooling_lab_{mode}_p{pool_size}"


def lab_databases() -> list[str]:
    return [database_name(mode, size) for mode in MODES for size in POOL_SIZES]


def parse_database(name: str) -> tuple[str, int] | None:
    """(mode, pool size) of one of the lab's PgBouncer databases, else None."""
    match = _DATABASE.match(name)
    if match is None or int(match[2]) not in POOL_SIZES:
        return None
    return match[1], int(match[2])


def parse_version(text: str) -> tuple[int, ...]:
    """(1, 18, 0) from "1.18.0" or from `pgbouncer --version` output."""
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if match is None:
        raise ValueError(f"no version number in {text!r}")
    return tuple(int(part) for part in match.groups(default="0"))


@dataclass(frozen=True, kw_only=True)
class BouncerConfig:
    listen_port: int
    pg_host: str
    pg_port: int
    dbname: str
    # PgBouncer logs in to PostgreSQL as this role (its slice of the budget).
    server_user: str = "pooling_lab_bouncer"
    server_password: str
    # None: clients log in to PgBouncer as server_user too, which makes
    # max_user_connections one cap over every database (see _database_line).
    client_user: str | None = None
    client_password: str = ""
    # The admin console's only user.
    admin_user: str = "pooling_lab_admin"
    admin_password: str
    max_server_connections: int
    pool_sizes: tuple[int, ...] = POOL_SIZES
    listen_host: str = "127.0.0.1"
    max_client_conn: int = 200
    server_idle_timeout: int = 30
    query_wait_timeout: int = 30
    server_login_retry: int = 1
    # 0 keeps protocol-level prepared statements off on every version, so the
    # prepared-statements pitfall ends the same on 1.18 and on 1.24.
    max_prepared_statements: int = 0

    def __post_init__(self) -> None:
        for name in ("server_password", "client_password", "admin_password"):
            value = getattr(self, name)
            if any(ch in value for ch in "\n\r\0"):
                raise ValueError(f"{name} must not contain a line break or NUL")
        user, password = self.client_login
        if not password or not self.admin_password:
            raise ValueError(f"the password of {user!r} and admin_password must not be empty")
        if self.max_server_connections < 1:
            raise ValueError("max_server_connections must be at least 1")
        if not self.pool_sizes or not set(self.pool_sizes) <= set(POOL_SIZES):
            raise ValueError(f"pool_sizes must be within {POOL_SIZES[0]}..{POOL_SIZES[-1]}")

    @property
    def forces_user(self) -> bool:
        return self.client_user not in (None, self.server_user)

    @property
    def client_login(self) -> tuple[str, str]:
        """(user, password) a client gives PgBouncer."""
        if self.forces_user:
            return self.client_user, self.client_password
        return self.server_user, self.server_password

    def databases(self) -> list[str]:
        return [database_name(mode, size) for mode in MODES for size in self.pool_sizes]


def _quote_value(value: str) -> str:
    # A connection-string value in single quotes, a quote doubled (PgBouncer's
    # loader reads '' as one quote).
    return "'" + value.replace("'", "''") + "'"


def _database_line(config: BouncerConfig, mode: str, size: int) -> str:
    parts = [
        f"host={config.pg_host}",
        f"port={config.pg_port}",
        f"dbname={_quote_value(config.dbname)}",
    ]
    if config.forces_user:
        # A forced user is a separate user object per database: PgBouncer 1.18
        # then counts max_user_connections per database, not in total.
        parts += [f"user={config.server_user}", f"password={_quote_value(config.server_password)}"]
    parts += [f"pool_mode={mode}", f"pool_size={size}"]
    return f"{database_name(mode, size)} = {' '.join(parts)}"


def render_hba(config: BouncerConfig) -> str:
    """Who may log in how: the admin with a password, the lab's clients like PostgreSQL's.

    The embedded PostgreSQL trusts loopback connections; SCRAM here would make every
    connection through PgBouncer pay a key derivation at both ends (8 ms against 2.5 ms,
    measured), and a learner would read that as the cost of PgBouncer itself.
    """
    client, _ = config.client_login
    loopback = config.listen_host in {"127.0.0.1", "localhost"}
    lines = [
        "# Written by the lab at each start; edits are lost.",
        f"host pgbouncer {config.admin_user} 0.0.0.0/0 scram-sha-256",
        f"host all {client} 127.0.0.1/32 trust"
        if loopback
        else f"host all {client} 0.0.0.0/0 scram-sha-256",
        "host all all 0.0.0.0/0 reject",
    ]
    return "\n".join(lines) + "\n"


def render_ini(
    config: BouncerConfig, version: tuple[int, ...], work_dir: Path, auth_file: Path
) -> str:
    """The whole `pgbouncer.ini`, with only keys that `version` accepts."""
    lines = [
        "; Written by the lab at each start; edits are lost.",
        "[databases]",
        "; One database per pool mode and size. PgBouncer logs in to PostgreSQL as",
        f"; {config.server_user}, the role whose CONNECTION LIMIT is its budget slice"
        + (" (forced user=)." if config.forces_user else " (clients log in as it too)."),
        *(_database_line(config, mode, size) for mode in MODES for size in config.pool_sizes),
        "",
        "[pgbouncer]",
        "; Loopback only: the admin console must be reachable from the lab alone.",
        f"listen_addr = {config.listen_host}",
        f"listen_port = {config.listen_port}",
        "; No Unix socket: two labs on one machine would fight over /tmp/.s.PGSQL.<port>.",
        "unix_socket_dir =",
        "; In the work folder, where the lab looks for a PgBouncer a crash left behind.",
        f"pidfile = {work_dir / 'pgbouncer.pid'}",
        "; hba.conf: SCRAM for the admin console (plain-text passwords in auth_file: md5",
        "; hashes do not work under SCRAM); the lab's clients as PostgreSQL treats them.",
        "auth_type = hba",
        f"auth_hba_file = {work_dir / 'hba.conf'}",
        f"auth_file = {auth_file}",
        f"admin_users = {config.admin_user}",
        f"stats_users = {config.admin_user}",
        "; PgBouncer never asks PostgreSQL for more than the role's CONNECTION LIMIT:",
        "; a pool that needs a server when the cap is reached closes another pool's",
        "; idle one, else its client waits.",
        f"max_user_connections = {config.max_server_connections}",
        "; Demo threads x aliases can exceed the default 100 client connections.",
        f"max_client_conn = {config.max_client_conn}",
        "; A finished demo's idle server connections go back within a minute",
        "; (default 600 s), so the connection monitor shows them leave.",
        f"server_idle_timeout = {config.server_idle_timeout}",
        "; A client kept waiting for a server connection fails, like a pool timeout,",
        "; in the same 30 s as psycopg_pool's default, not after the default 120 s.",
        f"query_wait_timeout = {config.query_wait_timeout}",
        "; After a failed server login (PostgreSQL restarting, or refusing the role),",
        "; try again after 1 s, not 15 s: the restart demo recovers at once.",
        f"server_login_retry = {config.server_login_retry}",
        "; Some drivers (JDBC) send extra_float_digits, harmless to ignore. The options",
        "; parameter must still be refused: a lesson shows that failure.",
        "ignore_startup_parameters = extra_float_digits",
    ]
    if version >= PREPARED_STATEMENTS_SINCE:
        lines += [
            "; 1.21+ can track prepared statements; off keeps the prepared-statements",
            "; pitfall the same as on 1.18, which refuses this key.",
            f"max_prepared_statements = {config.max_prepared_statements}",
        ]
    return "\n".join(lines) + "\n"


def render_userlist(config: BouncerConfig) -> str:
    """The auth_file: plain-text passwords, which SCRAM needs (a quote is doubled)."""
    users = [config.client_login, (config.admin_user, config.admin_password)]
    return "".join(
        f'"{user.replace(chr(34), chr(34) * 2)}" "{password.replace(chr(34), chr(34) * 2)}"\n'
        for user, password in users
    )
