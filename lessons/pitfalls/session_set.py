"""session-set: a SET made in one request, read by the next request.

One worker thread serves two requests in turn, as a demo server's thread would. The
first sets statement_timeout and does not reset it; the second, on whatever connection
its path gives it, reads the setting back. Without a pool the first connection is
closed at request_finished; Django's pool hands the same connection on as it is;
session-mode PgBouncer runs DISCARD ALL when the first client leaves; transaction-mode
PgBouncer (one server) lends the same server to the next client with no reset at all.
"""

from __future__ import annotations

from django.db import transaction

from .cycle import Seen, alone, execute, one_row, request
from .paths import Path

VALUE = "4321ms"
SHOW = "SELECT current_setting('statement_timeout'), pg_backend_pid()"


def _first_request(alias: str, fix: bool) -> tuple[str, int]:
    with request():
        if not fix:
            execute(alias, f"SET statement_timeout = '{VALUE}'")
            return one_row(alias, SHOW)
        with transaction.atomic(using=alias):
            execute(alias, f"SET LOCAL statement_timeout = '{VALUE}'")
            return one_row(alias, SHOW)


def _next_request(alias: str) -> tuple[str, int]:
    with request():
        return one_row(alias, SHOW)


def play(path: Path, fix: bool) -> Seen:
    def worker_thread() -> tuple[tuple[str, int], tuple[str, int]]:
        return _first_request(path.alias, fix), _next_request(path.alias)

    (set_value, first_pid), (read, next_pid) = alone(worker_thread)
    statement = f"SET {'LOCAL ' if fix else ''}statement_timeout = '{VALUE}'"
    inside = " inside atomic()" if fix else ""
    same = "the same backend" if next_pid == first_pid else "another backend"
    first = (
        f"Request 1 ran {statement}{inside} on backend {first_pid} (it read back "
        f"{set_value}) and ended"
    )
    leaked = read == VALUE
    verdict = "the setting leaked into it" if leaked else "the setting did not follow it"
    return Seen(
        broke=leaked,
        observed=f"{first}; request 2 read statement_timeout = {read} on {same} "
        f"({next_pid}): {verdict}.",
    )
