"""What a connection costs on this server, measured now.

Opens and closes `samples` connections (one at a time, each closed at once)
and times `samples` queries on one open connection, with the demo role and
plain psycopg, the same work `pgbench -C` and `pgbench -S` compare.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import psycopg

from . import lab
from .params import Param

SAMPLES = Param("samples", "int", 50, 5, 200, "How many connections and queries to time.")
QUERY = "SELECT 1"


def _conninfo() -> str:
    return lab.conninfo(lab.demo_database(), "pooling-lab:cost")


def _stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median": round(statistics.median(ordered), 3), "p95": round(p95, 3)}


def measure(samples: int) -> dict[str, Any]:
    dsn = _conninfo()
    connect_ms = []
    for _ in range(samples):
        start = time.perf_counter()
        conn = psycopg.connect(dsn, autocommit=True)
        connect_ms.append((time.perf_counter() - start) * 1000)
        conn.close()
    query_ms = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(QUERY).fetchone()
        for _ in range(samples):
            start = time.perf_counter()
            conn.execute(QUERY).fetchone()
            query_ms.append((time.perf_counter() - start) * 1000)
    connect, query = _stats(connect_ms), _stats(query_ms)
    return {
        "samples": samples,
        "query": QUERY,
        "connect_ms": connect,
        "query_ms": query,
        "ratio": round(connect["median"] / query["median"], 1) if query["median"] else None,
    }
