"""A bounded benchmark of every available strategy against the running demo server.

Targets are measured in interleaved rounds (each round runs every target once), so a
slow moment of the machine lands on all of them rather than on one. The load comes
from wrk when it is installed (a C client that leaves the CPU to the server, as in
the figures the lessons cite), else from the lab's own Python client.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from . import monitor, strategies
from .loadgen import each_worker, fetch_json

# Every this many requests of a wrk thread, one asks the server to close its connection,
# and wrk opens a new one. A kept-alive connection stays with the worker process that
# accepted it, and wrk opens them all at once: one worker could hold all of them, and a
# round would measure where the kernel put them (one busy worker of two: half the req/s),
# not the strategy. Re-opened connections go to whichever worker is free to accept.
WRK_REOPEN_EVERY = 100

# wrk re-opens connections as above, and prints this line at the end of a run: requests,
# errors, microseconds, p50, p95.
WRK_REPORT = f"""
local sent = 0
local again, last
init = function(args)
  again = wrk.format(nil, nil)
  last = wrk.format(nil, nil, {{["Connection"] = "close"}})
end
request = function()
  sent = sent + 1
  if sent % {WRK_REOPEN_EVERY} == 0 then return last end
  return again
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %.3f %.3f\\n", summary.requests,
    e.connect + e.read + e.write + e.status + e.timeout, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000))
end
"""


@dataclass
class Target:
    name: str
    path: str
    application_name: str
    # Another server than the lab's demo server (the bare app).
    base: str = ""
    # Whose connections these are on the demo server (a learner's tag, or the bench's own).
    owner: str = ""
    rates: list[float] = field(default_factory=list)
    p50s: list[float] = field(default_factory=list)
    p95s: list[float] = field(default_factory=list)
    errors: int = 0
    peak: int = 0

    def reset(self) -> None:
        self.rates, self.p50s, self.p95s, self.errors, self.peak = [], [], [], 0, 0


def targets(owner: str) -> list[Target]:
    """Every available strategy, on connections of `owner`'s (hex digits) alone."""
    return [
        Target(s.slug, f"/probe/{s.slug}/?owner={owner}", s.application_name_for(owner),
               owner=owner)
        for s in strategies.STRATEGIES.values()
        if s.unavailable() is None
    ]  # fmt: skip


def release(base: str, owner: str, workers: int) -> None:
    """Close `owner`'s connections in every demo worker: the strategy measured next then
    runs alone, as it would in an application configured with it. Otherwise each request
    also pays for the other strategies' aliases (Django looks at every configured alias at
    the start and end of a request) and the persistent ones' open connections."""
    each_worker(f"{base}/release/?owner={owner}", workers, method="POST")


# Uncounted requests before each round of a lab target, in units of the concurrency.
WARM_UP = 2


def warm_up(base: str, path: str, requests: int, concurrency: int) -> None:
    fetch_json(base, [path] * requests, concurrency, deadline_s=20, on_result=lambda i, r: None)


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def _percentile(values: list[float], pct: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def _python_round(
    base: str, target: Target, requests: int, concurrency: int, seconds: float | None = None
) -> None:
    """`requests` requests; with `seconds`, as many of them as that time allows."""
    times: list[float] = []
    sent = 0
    lock = threading.Lock()
    stop = threading.Event() if seconds is not None else None

    def on_result(index: int, result: dict[str, Any]) -> None:
        nonlocal sent
        with lock:
            if (result.get("error") or {}).get("kind") == "cancelled":
                return  # never sent: the round's time was up
            sent += 1
            if result.get("ok"):
                times.append(result["ms"])
            else:
                target.errors += 1

    timer = threading.Timer(seconds, stop.set) if stop is not None and seconds else None
    started = time.perf_counter()
    if timer is not None:
        timer.start()
    try:
        fetch_json(
            base,
            [target.path] * requests,
            concurrency,
            deadline_s=120,
            on_result=on_result,
            stop=stop,
        )
    finally:
        if timer is not None:
            timer.cancel()
    target.rates.append(sent / (time.perf_counter() - started))
    target.p50s.append(_percentile(times, 50))
    target.p95s.append(_percentile(times, 95))


def _wrk_round(base: str, target: Target, seconds: float, concurrency: int) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_REPORT)
        script.flush()
        cmd = [
            "wrk",
            "-t",
            str(min(2, concurrency)),
            "-c",
            str(concurrency),
            "-d",
            f"{seconds:g}s",
            "-s",
            script.name,
            base + target.path,
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT"))
    requests, errors, micros, p50, p95 = line.split()[1:]
    target.rates.append(int(requests) / (int(micros) / 1e6))
    target.errors += int(errors)
    target.p50s.append(float(p50))
    target.p95s.append(float(p95))


def run_round(
    base: str,
    target: Target,
    *,
    requests: int,
    seconds: float,
    concurrency: int,
    use_wrk: bool,
    timed: bool = False,
    workers: int = 0,
) -> None:
    """One round against one target. wrk runs for `seconds`; the Python client sends
    `requests`, or with `timed` stops after `seconds` too (at most `requests`).

    A lab target's round starts from its strategy alone: the owner's connections in the
    `workers` demo processes closed, then opened again by uncounted requests."""
    if target.owner and workers:
        release(base, target.owner, workers)
        # Kept-alive warm-up connections may all land on one worker: first open the
        # strategy in each worker, so that none does it inside the timed round.
        each_worker(base + target.path, workers)
        warm_up(base, target.path, WARM_UP * concurrency, concurrency)
    base = target.base or base
    with monitor.PeakSampler(target.application_name, interval=0.05) as peak:
        if use_wrk:
            _wrk_round(base, target, seconds, concurrency)
        else:
            _python_round(base, target, requests, concurrency, seconds if timed else None)
    target.peak = max(target.peak, peak.peak)


def report(found: list[Target]) -> list[dict[str, Any]]:
    return [
        {
            "target": t.name,
            "req_per_s": round(statistics.median(t.rates), 1),
            "p50_ms": round(statistics.median(t.p50s), 2),
            "p95_ms": round(statistics.median(t.p95s), 2),
            "peak_server_connections": t.peak,
            "errors": t.errors,
            "rounds": [round(r) for r in t.rates],
        }
        for t in found
    ]
