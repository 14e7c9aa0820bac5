"""startup-options: Django's OPTIONS = {"options": "-c statement_timeout=5000"}.

psycopg passes `options` as a startup parameter. PostgreSQL applies it; PgBouncer 1.18
refuses it at login, whatever the pool mode, before any pooling happens. The fix sets
the value without a startup parameter, with SET LOCAL in the transaction that needs it.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from .cycle import DATABASE_ERRORS, Seen, alone, database_error, describe, execute, one_row, request
from .paths import Path

OPTIONS = "-c statement_timeout=5000"
SHOW = "SELECT current_setting('statement_timeout'), pg_backend_pid()"
REFUSED = "unsupported startup parameter"


def tweak(entry: dict[str, Any], fix: bool) -> None:
    if not fix:
        entry.setdefault("OPTIONS", {})["options"] = OPTIONS


def _request(alias: str, fix: bool) -> tuple[str, int]:
    with request():
        if not fix:
            return one_row(alias, SHOW)
        with transaction.atomic(using=alias):
            execute(alias, "SET LOCAL statement_timeout = 5000")
            return one_row(alias, SHOW)


def play(path: Path, fix: bool) -> Seen:
    def worker_thread() -> tuple[tuple[str, int] | None, BaseException | None]:
        try:
            return _request(path.alias, fix), None
        except DATABASE_ERRORS as exc:
            return None, exc

    shown, failure = alone(worker_thread)
    if failure is None:
        assert shown is not None
        how = (
            "SET LOCAL statement_timeout = 5000 inside atomic()"
            if fix
            else (f'OPTIONS["options"] = "{OPTIONS}"')
        )
        return Seen(
            broke=False,
            observed=f"Connected with {how}; statement_timeout read {shown[0]} on backend "
            f"{shown[1]}.",
        )
    error = database_error(failure)
    if error is None or REFUSED not in str(error):
        raise failure
    return Seen(
        broke=True,
        observed="PgBouncer refused the connection at login, before a single query: it "
        "does not take the options startup parameter.",
        error=describe(error),
    )
