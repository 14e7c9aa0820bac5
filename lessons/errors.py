"""What can go wrong in a demo, told as a lesson result rather than a crash."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorKind:
    kind: str
    title: str
    explains: str
    status: int

    def result(self, message: str) -> dict[str, str]:
        return {"kind": self.kind, "title": self.title, "message": message}


KINDS = [
    ErrorKind(
        "pool-timeout",
        "Pool timeout",
        "Every connection in the pool was busy for longer than the pool's timeout: "
        "psycopg_pool raised PoolTimeout, which Django wraps in OperationalError.",
        503,
    ),
    ErrorKind(
        "queuepool-overflow",
        "QueuePool limit reached",
        "POOL_SIZE + MAX_OVERFLOW connections were all checked out for longer than "
        "TIMEOUT: SQLAlchemy raised TimeoutError, which Django does not wrap.",
        503,
    ),
    ErrorKind(
        "role-limit",
        "Demo role's connection limit",
        "PostgreSQL refused a connection because the demo role reached its "
        "CONNECTION LIMIT, the lab's last line of defence for its budget.",
        503,
    ),
    ErrorKind(
        "too-many-clients",
        "Server full",
        "PostgreSQL has no free connection slots (max_connections).",
        503,
    ),
    ErrorKind(
        "connection-lost",
        "Connection lost",
        "The kept connection was already dead when this request used it: the server "
        "ended it (a restart, a failover, pg_terminate_backend). CONN_HEALTH_CHECKS "
        "would have found that and reconnected first.",
        503,
    ),
    ErrorKind(
        "database-down",
        "Database not reachable",
        "No new connection could be opened: the server (or PgBouncer) is down or restarting.",
        503,
    ),
    ErrorKind(
        "improperly-configured",
        "Django refused the settings",
        "Django itself rejected this combination of database settings.",
        409,
    ),
    ErrorKind("database-error", "Database error", "The database reported an error.", 503),
    # What a run records when the demo server itself answers no probe result.
    ErrorKind(
        "lab-busy",
        "Lab at its budget",
        "The demo server refused the request: the lab's connection budget was taken by "
        "other demos at that moment.",
        409,
    ),
    ErrorKind(
        "demo-down",
        "Demo server not answering",
        "The demo server did not answer (it is restarting, or stopped).",
        502,
    ),
    ErrorKind("http", "Unexpected answer", "The demo server answered something else.", 502),
    ErrorKind("deadline", "Not sent", "The run reached its time limit first.", 504),
    ErrorKind("cancelled", "Cancelled", "The run was cancelled before this request.", 499),
]
BY_KIND = {k.kind: k for k in KINDS}
# What psycopg and PostgreSQL say when a connection died under the client.
LOST = (
    "terminating connection",
    "server closed the connection",
    "connection is closed",
    "consuming input failed",
    "connection already closed",
    "the connection is lost",
)
DOWN = ("connection refused", "the database system is", "server login has been failing")


def classify(exc: BaseException) -> ErrorKind:
    """Name the failure from the exception chain; never guesses from nothing."""
    from django.core.exceptions import ImproperlyConfigured

    chain = []
    while exc is not None and exc not in chain:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    names = {type(e).__name__ for e in chain}
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, ImproperlyConfigured) for e in chain):
        return BY_KIND["improperly-configured"]
    if "PoolTimeout" in names:
        return BY_KIND["pool-timeout"]
    if "queuepool limit" in text:
        return BY_KIND["queuepool-overflow"]
    if "too many connections for role" in text:
        return BY_KIND["role-limit"]
    if "too many clients" in text or "remaining connection slots" in text:
        return BY_KIND["too-many-clients"]
    if any(sign in text for sign in LOST):
        return BY_KIND["connection-lost"]
    if any(sign in text for sign in DOWN):
        return BY_KIND["database-down"]
    return BY_KIND["database-error"]
