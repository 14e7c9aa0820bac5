"""What every pitfall is played with: Django's request cycle, client threads, and errors.

A "request" here is what Django's WSGI handler does around a view, signals and all:
`request_started` and `request_finished` go out exactly as `WSGIHandler` sends them, so
`close_old_connections` closes (or returns to its pool) each connection the request used,
as it would on a demo server. Each client runs in a thread of its own, because Django's
connections belong to a thread, and the clients take turns through events: the order of
their steps is fixed, so each pitfall ends the same way every time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import psycopg
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import DatabaseError, connections, transaction
from django.utils.connection import ConnectionDoesNotExist

# Longer than PgBouncer's query_wait_timeout (30 s): a client kept waiting for a server
# connection fails with PgBouncer's own error before a step is declared stalled.
STEP_SECONDS = 40.0


# What the database (or PgBouncer) can answer with: Django's wrapped errors, and psycopg's
# own where Django does not wrap them (a server-side cursor's close()).
DATABASE_ERRORS = (DatabaseError, psycopg.Error)


class Stalled(RuntimeError):
    """A client never reached the step another one waits for: the lab, not the pitfall."""


@dataclass(frozen=True)
class Seen:
    """What one play of a pitfall showed: did it break, what happened, the error if any."""

    broke: bool
    observed: str
    error: dict[str, str] | None = None


@contextmanager
def request(path: str = "/pitfall/") -> Iterator[None]:
    """One request's life as Django's WSGI handler gives it (signals and all)."""
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "SERVER_NAME": "pitfall"}
    signals.request_started.send(sender=WSGIHandler, environ=environ)
    try:
        yield
    finally:
        signals.request_finished.send(sender=WSGIHandler)


def wait(event: threading.Event, what: str) -> None:
    if not event.wait(STEP_SECONDS):
        raise Stalled(f"waited {STEP_SECONDS:.0f} s for {what}")


class Client(threading.Thread):
    """One client: a thread of its own, like a demo server's worker thread.

    It keeps what `work` returned or raised, and closes its own connections at the end
    (a thread outside a request must, FACTS: Django only does it at request_finished).
    """

    def __init__(self, name: str, work: Callable[[], Any]) -> None:
        super().__init__(name=f"pitfall-{name}", daemon=True)
        self.work = work
        self.value: Any = None
        self.failure: BaseException | None = None
        # The aliases it may use, named now: a client that outlives its play (stalled)
        # must still close its connections after the aliases are gone from settings.
        self.aliases = list(connections.settings)

    def run(self) -> None:
        try:
            self.value = self.work()
        except BaseException as exc:  # handed to the thread that asks for the result
            self.failure = exc
        finally:
            for alias in self.aliases:
                with suppress(ConnectionDoesNotExist):  # never used here, and gone
                    connections[alias].close()

    def result(self) -> Any:
        self.join(STEP_SECONDS * 2)
        if self.is_alive():
            raise Stalled(f"{self.name} did not finish within {STEP_SECONDS * 2:.0f} s")
        if self.failure is not None:
            raise self.failure
        return self.value


def together(**works: Callable[[], Any]) -> dict[str, Any]:
    """Start one client per work, wait for all of them, return their results by name."""
    clients = {name: Client(name, work) for name, work in works.items()}
    for client in clients.values():
        client.start()
    return {name: client.result() for name, client in clients.items()}


def alone(work: Callable[[], Any]) -> Any:
    """One client on its own thread (a worker thread serving requests one after another)."""
    return together(only=work)["only"]


def database_error(exc: BaseException) -> psycopg.Error | None:
    """The first error the database (or PgBouncer) reported, under Django's wrapping.

    Django wraps psycopg's errors (`__cause__`); an error raised while cleaning up after
    another one (a cursor's CLOSE) carries the first one as `__context__`. The first one
    is what the learner needs to see.
    """
    found, seen = None, set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, psycopg.Error):
            found = exc
        exc = exc.__cause__ or exc.__context__
    return found


def describe(error: psycopg.Error) -> dict[str, str]:
    """{kind, message}: psycopg's class for the SQLSTATE, and what the server said."""
    text = " ".join(str(error).split())
    return {"kind": type(error).__name__, "message": text}


def backend_pid(alias: str) -> int:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def execute(alias: str, sql: str, params: list[Any] | None = None) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)


def one_row(alias: str, sql: str, params: list[Any] | None = None) -> tuple:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def hold_a_transaction(
    alias: str, after: threading.Event, holding: threading.Event, until: threading.Event
) -> int:
    """The other client's part in a transaction-mode pitfall: once `after` is set, take a
    server connection in a transaction of its own (so the first client's next statement
    has to go to another one), say so with `holding`, and keep it until `until`."""
    wait(after, "the first client's first step")
    with request(), transaction.atomic(using=alias):
        pid = backend_pid(alias)
        holding.set()
        wait(until, "the first client's last step")
    return pid
