"""prepared-statements: psycopg prepares a query, the next execution lands elsewhere.

Client A opts in to preparing (`prepare_threshold = 0`: prepare on the first execution)
and runs one query twice in one request. Between the two, client B (Django's defaults:
nothing prepared) holds, in an open transaction, the server A prepared on. PgBouncer
lends servers last-in first-out, so B holds exactly that one, and in transaction mode
A's second execution goes to the pool's other server, where the statement does not
exist. Without a pool, with Django's pool and in session mode, A's request stays on the
connection that prepared it.

Django's default cursors bind parameters on the client and never prepare, whatever
`prepare_threshold` says; preparing needs `server_side_binding = True` as well.
"""

from __future__ import annotations

import threading
from typing import Any

from .cycle import (
    DATABASE_ERRORS,
    Seen,
    database_error,
    describe,
    hold_a_transaction,
    one_row,
    request,
    together,
    wait,
)
from .paths import Path

# The query reports its backend and which statements that session has prepared.
QUERY = (
    "SELECT pg_backend_pid(), "
    "(SELECT coalesce(string_agg(name, ', '), '') FROM pg_prepared_statements)"
)
# psycopg's errors for a prepared statement that is missing, or taken by someone else.
PREPARED_STATES = {"26000", "42P05"}


def tweak(entry: dict[str, Any], fix: bool) -> None:
    options = entry.setdefault("OPTIONS", {})
    options["server_side_binding"] = True
    if not fix:
        options["prepare_threshold"] = 0


def play(path: Path, fix: bool) -> Seen:
    first_done, holding, finished = threading.Event(), threading.Event(), threading.Event()

    def runner() -> tuple[tuple, tuple | None, BaseException | None]:
        try:
            with request():
                first = one_row(path.alias, QUERY)
                first_done.set()
                wait(holding, "the other client's transaction")
                try:
                    return first, one_row(path.alias, QUERY), None
                except DATABASE_ERRORS as exc:
                    return first, None, exc
        finally:
            first_done.set()
            finished.set()

    def holder() -> int:
        return hold_a_transaction(path.other, first_done, holding, finished)

    seen = together(a=runner, b=holder)
    first, second, failure = seen["a"]
    return _seen(first, second, seen["b"], failure)


def _names(names: str) -> str:
    return f"prepared statements: {names}" if names else "no prepared statements"


def _seen(first: tuple, second: tuple | None, held: int, failure: BaseException | None) -> Seen:
    pid, names = first
    opening = (
        f"The first execution ran on backend {pid} ({_names(names)}); another client then "
        f"held backend {held} in an open transaction"
    )
    if failure is None:
        assert second is not None
        return Seen(
            broke=False,
            observed=f"{opening}; the second execution ran on backend {second[0]} "
            f"({_names(second[1])}).",
        )
    error = database_error(failure)
    if error is None or error.sqlstate not in PREPARED_STATES:
        raise failure
    return Seen(
        broke=True,
        observed=f"{opening}; the second execution went to another server connection, "
        "which does not hold the client's statement.",
        error=describe(error),
    )
