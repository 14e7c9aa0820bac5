"""server-side-cursor: QuerySet.iterator() on Django's WITH HOLD server-side cursor.

Client A iterates over pg_type in chunks. Outside a transaction Django declares the
cursor WITH HOLD in one autocommit transaction and fetches from it in later ones. After
the first chunk, client B (another client on the same path) opens a transaction and
holds it; then A fetches the next chunk. PgBouncer lends servers last-in first-out, so
B holds the very server that has A's cursor, and in transaction mode A's next FETCH goes
to the pool's second server, which never saw the cursor. Every other path keeps A's
request on one server session, whatever B does.
"""

from __future__ import annotations

import threading
from typing import Any

from django.apps.registry import Apps
from django.db import models
from django.db.models.expressions import RawSQL

from .cycle import (
    DATABASE_ERRORS,
    Seen,
    database_error,
    describe,
    hold_a_transaction,
    request,
    together,
    wait,
)
from .paths import Path

CHUNK = 100


class CatalogType(models.Model):
    """PostgreSQL's pg_type, which every role may read: rows to iterate over.

    In an Apps registry of its own, so that it is no model of the project: no migration,
    no table of the lab's.
    """

    oid = models.IntegerField(primary_key=True)
    typname = models.CharField(max_length=64)

    class Meta:
        apps = Apps()
        app_label = "pitfalls"
        db_table = "pg_type"
        managed = False

    def __str__(self) -> str:
        return self.typname


def tweak(entry: dict[str, Any], fix: bool) -> None:
    entry["DISABLE_SERVER_SIDE_CURSORS"] = fix


def play(path: Path, fix: bool) -> Seen:
    first_chunk, holding, finished = threading.Event(), threading.Event(), threading.Event()

    def reader() -> tuple[int, set[int], BaseException | None]:
        rows = (
            CatalogType.objects.using(path.alias)
            .annotate(backend=RawSQL("pg_backend_pid()", ()))
            .order_by("oid")
            .values_list("backend", flat=True)
        )
        read, pids = 0, set()
        try:
            with request():
                try:
                    for read, pid in enumerate(rows.iterator(chunk_size=CHUNK), start=1):
                        pids.add(pid)
                        if read == CHUNK:
                            first_chunk.set()
                            wait(holding, "the other client's transaction")
                except DATABASE_ERRORS as exc:
                    return read, pids, exc
            return read, pids, None
        finally:
            first_chunk.set()
            finished.set()

    def holder() -> int:
        return hold_a_transaction(path.other, first_chunk, holding, finished)

    seen = together(a=reader, b=holder)
    read, pids, failure = seen["a"]
    return _seen(read, pids, seen["b"], failure, fix)


def _seen(read: int, pids: set[int], held: int, failure: BaseException | None, fix: bool) -> Seen:
    how = (
        "with DISABLE_SERVER_SIDE_CURSORS the driver had fetched every row at once"
        if fix
        else f"Django's WITH HOLD cursor read them in chunks of {CHUNK}"
    )
    served = ", ".join(str(pid) for pid in sorted(pids)) or "none"
    if failure is None:
        return Seen(
            broke=False,
            observed=f".iterator() read all {read} rows of pg_type from backend {served} "
            f"({how}), while another client held backend {held} in an open transaction.",
        )
    error = database_error(failure)
    if error is None or error.sqlstate != "34000":  # invalid_cursor_name
        raise failure
    return Seen(
        broke=True,
        observed=f"Django declared its WITH HOLD cursor on backend {served} and read the "
        f"first {read} rows; another client then held backend {held} in an open "
        "transaction, so the next FETCH went to a server connection that never saw the "
        "cursor.",
        error=describe(error),
    )
