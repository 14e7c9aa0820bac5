"""What PostgreSQL sees: the lab's demo connections in pg_stat_activity."""

from __future__ import annotations

import threading
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

import psycopg
from django.db import connection

from . import lab, strategies

PREFIX = "pooling-lab:"
ACTIVITY_SQL = """
    SELECT pid, application_name, state, backend_start, state_change,
           extract(epoch FROM now() - backend_start)
    FROM pg_stat_activity
    WHERE application_name LIKE %s AND application_name <> %s
      AND application_name NOT LIKE %s
    ORDER BY application_name, backend_start
"""
HISTORY_SECONDS = 300

# Samples of connections per strategy, one per monitor poll, for the chart.
_history: deque[tuple[float, dict[str, int]]] = deque()
_history_lock = threading.Lock()


def activity() -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(ACTIVITY_SQL, [PREFIX + "%", PREFIX + "site", PREFIX + "site-%"])
        rows = cursor.fetchall()
    return [
        {
            "pid": pid,
            "strategy": app.removeprefix(PREFIX),
            "state": state,
            "backend_start": start.isoformat() if start else None,
            "state_change": change.isoformat() if change else None,
            "age_s": round(float(age), 1) if age is not None else None,
        }
        for pid, app, state, start, change, age in rows
    ]


def snapshot() -> dict[str, Any]:
    rows = activity()
    counts = {slug: 0 for slug in strategies.STRATEGIES}
    for row in rows:
        if row["strategy"] in counts:
            counts[row["strategy"]] += 1
    _record(counts)
    return {
        "at": datetime.now(UTC).isoformat(),
        "max_connections": lab.server_facts()["max_connections"],
        "budget": lab.connection_budget(),
        "rows": rows,
        "counts": counts,
        "pgbouncer": None,
    }


def _record(counts: dict[str, int]) -> None:
    now = time.time()
    with _history_lock:
        _history.append((now, counts))
        while _history and _history[0][0] < now - HISTORY_SECONDS:
            _history.popleft()


def history() -> list[tuple[float, dict[str, int]]]:
    with _history_lock:
        return list(_history)


def chart(width: int = 600, height: int = 160) -> dict[str, Any]:
    """Polylines (SVG coordinates) of connections per strategy over the last minutes."""
    samples = history()
    now = time.time()
    top = max([1] + [n for _, counts in samples for n in counts.values()])
    lines = []
    for index, slug in enumerate(strategies.STRATEGIES):
        points = [
            f"{width - (now - at) / HISTORY_SECONDS * width:.1f},"
            f"{height - counts.get(slug, 0) / top * (height - 10):.1f}"
            for at, counts in samples
        ]
        if any(counts.get(slug) for _, counts in samples):
            lines.append({"slug": slug, "points": " ".join(points), "index": index})
    return {
        "width": width,
        "height": height,
        "top": top,
        "lines": lines,
        "minutes": HISTORY_SECONDS // 60,
    }


class PeakSampler:
    """Samples how many server connections a strategy holds while a run goes on."""

    def __init__(self, application_name: str, interval: float = 0.1) -> None:
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


def terminate(strategy: strategies.Strategy) -> list[int]:
    """Kill the lab's demo backends of one strategy, as a failover or an administrator would.

    Only connections with the strategy's application_name, and (when the lab has its
    demo role) of that role: never the site's own. Waits up to 2 s for each to exit.
    """
    role = lab.config()["DEMO_ROLE"]
    # Choose the PIDs first, then kill exactly those: in one statement PostgreSQL may
    # call pg_terminate_backend() before it has applied the other conditions.
    query = "SELECT pid FROM pg_stat_activity WHERE application_name = %s" + (
        " AND usename = %s" if role else ""
    )
    with connection.cursor() as cursor:
        cursor.execute(query, [strategy.application_name, *([role] if role else [])])
        pids = [pid for (pid,) in cursor.fetchall()]
        cursor.execute(
            "SELECT pid FROM unnest(%s::int[]) AS pid WHERE pg_terminate_backend(pid, 2000)",
            [pids],
        )
        return sorted(pid for (pid,) in cursor.fetchall())
