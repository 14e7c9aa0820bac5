"""A bounded benchmark of every available strategy against the running demo server.

Targets are measured in interleaved rounds (each round runs every target once), so a
slow moment of the machine lands on all of them rather than on one.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from . import monitor, strategies
from .loadgen import fetch_json


@dataclass
class Target:
    name: str
    path: str
    application_name: str
    rates: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    errors: int = 0
    peak: int = 0


def targets() -> list[Target]:
    found = [
        Target(s.slug, f"/probe/{s.slug}/", s.application_name)
        for s in strategies.STRATEGIES.values()
        if s.unavailable() is None
    ]
    found.append(Target("bare view (native pool)", "/bare/", "pooling-lab:bare"))
    return found


def run_round(base: str, target: Target, requests: int, concurrency: int) -> None:
    lock = threading.Lock()

    def on_result(index: int, result: dict[str, Any]) -> None:
        with lock:
            if result.get("ok"):
                target.times.append(result["ms"])
            else:
                target.errors += 1

    with monitor.PeakSampler(target.application_name, interval=0.05) as peak:
        started = time.perf_counter()
        fetch_json(base, [target.path] * requests, concurrency, deadline_s=120, on_result=on_result)
        target.rates.append(requests / (time.perf_counter() - started))
    target.peak = max(target.peak, peak.peak)


def percentile(values: list[float], pct: int) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[pct - 1]
        if len(values) > 1
        else (values[0] if values else float("nan"))
    )


def report(found: list[Target]) -> list[dict[str, Any]]:
    return [
        {
            "target": t.name,
            "req_per_s": round(statistics.median(t.rates), 1),
            "p50_ms": round(percentile(t.times, 50), 2),
            "p95_ms": round(percentile(t.times, 95), 2),
            "peak_server_connections": t.peak,
            "errors": t.errors,
        }
        for t in found
    ]
