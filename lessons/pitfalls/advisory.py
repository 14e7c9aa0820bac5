"""advisory-lock: a session-level advisory lock, taken through a connection path.

Client A takes the lock and, while it still holds it, client B (another client on the
same path) tries to take it too; then B lets go if it got it, and A unlocks. Correct is
B refused. In transaction mode the session that holds the lock is PgBouncer's server,
not A: PgBouncer lends that server (last released, first lent) to B, and a session may
take a lock it already holds, so B gets it. With the fix, A's lock belongs to its open
transaction, which keeps its server to itself, and B (on the other server) is refused.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from django.db import transaction

from .cycle import Seen, one_row, request, together, wait
from .paths import Path

KEY = 0x70697466  # "pitf": no other lock of the lab's uses it

TAKE = "SELECT pg_advisory_lock(%s), pg_backend_pid()"
TRY = "SELECT pg_try_advisory_lock(%s), pg_backend_pid()"
UNLOCK = "SELECT pg_advisory_unlock(%s), pg_backend_pid()"
TAKE_XACT = "SELECT pg_advisory_xact_lock(%s), pg_backend_pid()"
TRY_XACT = "SELECT pg_try_advisory_xact_lock(%s), pg_backend_pid()"


@contextmanager
def _scope(alias: str, fix: bool) -> Iterator[None]:
    """A request, and with the fix the transaction the lock belongs to."""
    with request(), transaction.atomic(using=alias) if fix else nullcontext():
        yield


def play(path: Path, fix: bool) -> Seen:
    locked, tried = threading.Event(), threading.Event()

    def first() -> tuple[int, tuple | None]:
        try:
            with _scope(path.alias, fix):
                _, pid = one_row(path.alias, TAKE_XACT if fix else TAKE, [KEY])
                locked.set()
                wait(tried, "the other client's attempt")
                return pid, None if fix else one_row(path.alias, UNLOCK, [KEY])
        finally:
            locked.set()

    def second() -> tuple[bool, int]:
        wait(locked, "the first client's lock")
        try:
            with _scope(path.other, fix):
                got, pid = one_row(path.other, TRY_XACT if fix else TRY, [KEY])
                if got and not fix:
                    one_row(path.other, UNLOCK, [KEY])  # it believes the lock is its own
                return got, pid
        finally:
            tried.set()

    seen = together(a=first, b=second)
    return _seen(seen["a"], seen["b"], fix)


def _seen(first: tuple[int, tuple | None], second: tuple[bool, int], fix: bool) -> Seen:
    pid, unlocked = first
    got, other_pid = second
    kind = "pg_advisory_xact_lock() inside atomic()" if fix else "pg_advisory_lock()"
    attempt = "pg_try_advisory_xact_lock()" if fix else "pg_try_advisory_lock()"
    opening = f"Client 1 took lock {KEY} with {kind} on backend {pid}; while it held it"
    where = "the same backend" if other_pid == pid else f"backend {other_pid}"
    if got:
        observed = (
            f"{opening}, client 2's {attempt} on {where} returned true: both clients "
            "believed they held the lock."
        )
    else:
        observed = (
            f"{opening}, client 2's {attempt} on {where} returned false: it was refused, "
            "as it should be."
        )
    if unlocked is not None:
        observed += f" Client 1's pg_advisory_unlock() then returned {str(unlocked[0]).lower()}."
    return Seen(broke=bool(got), observed=observed)
