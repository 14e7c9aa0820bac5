"""What PostgreSQL (and PgBouncer) see: the lab's demo connections, sampled on a clock.

A sample is taken at most once a second, whatever the number of people watching, under
an advisory lock so that replicas do not sample twice; it is stored in PostgreSQL, so
every site process shows the same history, and each process keeps the last minutes of it
in memory, fetching only what is new. A poll therefore costs one small query, and the
answer's size depends on the time window, never on how often it is asked for.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from . import lab, strategies
from .models import MonitorSample

PREFIX = "pooling-lab:"
SAMPLE_EVERY = timedelta(seconds=1)
HISTORY_SECONDS = 300
LOCK_KEY = 0x6D6F6E69  # "moni"
ACTIVITY_SQL = """
    SELECT pid, application_name, usename, state, backend_start, state_change,
           extract(epoch FROM now() - backend_start)
    FROM pg_stat_activity
    WHERE application_name LIKE %s AND application_name NOT LIKE %s
    ORDER BY application_name, backend_start
"""


def _parse_name(name: str) -> tuple[str, str]:
    """pooling-lab:<slug>[:<owner>] -> (slug, owner)."""
    slug, _, owner = name.removeprefix(PREFIX).partition(":")
    return slug, owner


def activity() -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(ACTIVITY_SQL, [PREFIX + "%", PREFIX + "site%"])
        rows = cursor.fetchall()
    found = []
    for pid, app, user, state, start, change, age in rows:
        slug, owner = _parse_name(app)
        if slug not in strategies.STRATEGIES:
            continue  # the lab's own tools (cost, sampler) are not demo connections
        found.append(
            {
                "pid": pid,
                "strategy": slug,
                "owner": owner,
                "user": user,
                "state": state,
                "backend_start": start.isoformat() if start else None,
                "state_change": change.isoformat() if change else None,
                "age_s": round(float(age), 1) if age is not None else None,
            }
        )
    return found


def _pgbouncer_view() -> dict[str, Any] | None:
    if not lab.pgbouncer():
        return None
    from . import pgbouncer

    try:
        return pgbouncer.console().snapshot()
    except pgbouncer.PgBouncerUnavailable as exc:
        return {"down": str(exc), "pools": [], "clients": [], "servers": []}


def _counts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    counts = {slug: 0 for slug in strategies.STRATEGIES}
    by_owner: dict[str, dict[str, int]] = {}
    for row in rows:
        counts[row["strategy"]] += 1
        if row["owner"]:
            mine = by_owner.setdefault(row["owner"], {})
            mine[row["strategy"]] = mine.get(row["strategy"], 0) + 1
    return {"all": counts, "by_owner": by_owner}


def _take() -> MonitorSample | None:
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK_KEY])
            if not cursor.fetchone()[0]:
                return None  # another process is sampling right now
        newest = MonitorSample.objects.first()
        if newest and timezone.now() - newest.at < SAMPLE_EVERY:
            return newest
        rows = activity()
        sample = MonitorSample.objects.create(
            at=timezone.now(), counts=_counts(rows), rows=rows, pgbouncer=_pgbouncer_view()
        )
        if sample.pk % 30 == 0:
            cutoff = sample.at - timedelta(seconds=HISTORY_SECONDS + 60)
            MonitorSample.objects.filter(at__lt=cutoff).delete()
        return sample


_newest: tuple[float, MonitorSample | None] = (0.0, None)


def latest() -> MonitorSample | None:
    """The newest sample, taking a new one when it is a second old.

    Kept in this process for a quarter of a second: a room's polls arriving together share
    one read.
    """
    global _newest
    read_at, newest = _newest
    if time.monotonic() - read_at < 0.25:
        return newest
    newest = MonitorSample.objects.defer("counts").first()
    if newest is None or timezone.now() - newest.at >= SAMPLE_EVERY:
        newest = _take() or newest or MonitorSample.objects.first()
    _newest = (time.monotonic(), newest)
    return newest


def snapshot(owner: str | None) -> dict[str, Any]:
    """The API's view: everyone's connections (owner None) or one learner's."""
    try:
        sample = latest()
    except DatabaseError:
        sample = None
    rows = sample.rows if sample else []
    if owner is not None:
        rows = [row for row in rows if row["owner"] == owner]
    return {
        "at": (sample.at if sample else datetime.now(UTC)).isoformat(),
        "scope": "all" if owner is None else "mine",
        "max_connections": lab.server_facts()["max_connections"],
        "budget": lab.connection_budget(),
        "slices": lab.budget_slices(),
        "rows": rows,
        "counts": _counts(rows)["all"],
        "pgbouncer": sample.pgbouncer if sample else None,
    }


class _History:
    """This process's copy of the last minutes of samples (time, counts), kept current."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.samples: list[tuple[float, dict[str, Any]]] = []
        self.fetched = 0.0

    def get(self) -> list[tuple[float, dict[str, Any]]]:
        with self.lock:
            if time.monotonic() - self.fetched < 0.5:
                return list(self.samples)
            self.fetched = time.monotonic()
            newest = self.samples[-1][0] if self.samples else 0
            since = datetime.fromtimestamp(max(newest, time.time() - HISTORY_SECONDS), tz=UTC)
            fresh = MonitorSample.objects.filter(at__gt=since).order_by("at")
            self.samples += [(s.at.timestamp(), s.counts) for s in fresh.only("at", "counts")]
            cutoff = time.time() - HISTORY_SECONDS
            self.samples = [s for s in self.samples if s[0] >= cutoff]
            return list(self.samples)


history = _History()


def chart(owner: str | None, width: int = 600, height: int = 160) -> dict[str, Any]:
    """Connections per strategy over the last minutes, as SVG polylines with a time axis.

    A line is broken where no sample was taken for more than 3 s (nobody was watching):
    drawing across the gap would invent values.
    """
    try:
        samples = history.get()
    except DatabaseError:
        samples = []
    now = time.time()
    series = [
        (at, counts["all"] if owner is None else counts["by_owner"].get(owner, {}))
        for at, counts in samples
    ]
    top = max([1] + [n for _, counts in series for n in counts.values()])

    def x(at: float) -> float:
        return round(width - (now - at) / HISTORY_SECONDS * width, 1)

    def y(n: int) -> float:
        return round(height - n / top * (height - 10), 1)

    lines = []
    for index, slug in enumerate(strategies.STRATEGIES):
        if not any(counts.get(slug) for _, counts in series):
            continue
        segments, current, last_at = [], [], None
        for at, counts in series:
            if last_at is not None and at - last_at > 3:
                segments.append(current)
                current = []
            current.append(f"{x(at)},{y(counts.get(slug, 0))}")
            last_at = at
        segments.append(current)
        lines.append(
            {"slug": slug, "index": index, "segments": [" ".join(s) for s in segments if s]}
        )
    ticks = [
        {"x": x(now - s), "label": f"-{s // 60} min" if s else "now"}
        for s in (240, 180, 120, 60, 0)
    ]
    return {
        "width": width,
        "height": height,
        "top": top,
        "lines": lines,
        "ticks": ticks,
        "empty": not series,
        "minutes": HISTORY_SECONDS // 60,
    }


class PeakSampler:
    """Samples how many server connections one application_name holds (the benchmark).

    Runs have exact figures from their own results; wrk's load has no per-request results,
    so the benchmark samples pg_stat_activity every 50 ms instead, and says so.
    """

    def __init__(self, application_name: str, interval: float = 0.05) -> None:
        self.application_name = application_name
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="peak-sampler", daemon=True)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _loop(self) -> None:
        query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
        with psycopg.connect(
            lab.site_conninfo("pooling-lab:site-sampler"), autocommit=True
        ) as conn:
            while True:
                count = conn.execute(query, [self.application_name]).fetchone()[0]
                self.peak = max(self.peak, count)
                if self._stop.wait(self.interval):
                    break
