"""A room of learners, simulated: what a workshop does to one lab node.

Each simulated learner behaves as a browser on a lesson page does: loads the page and its
assets, asks for its demos' state, polls the embedded monitor every second, starts one of
the lesson's demo runs every ~10 s and polls that run every 400 ms until it has finished.
Loopback only, bounded in learners and time, and it stops by itself.

Without --site it starts its own lab in the production configuration (POOLING_LAB_PRODUCTION,
a scratch lab folder, embedded PostgreSQL) behind which a TLS proxy is simulated with
X-Forwarded-Proto: https, and stops it at the end.

Usage: uv run python scripts/load_room.py [--learners 200] [--seconds 120] [--site URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psycopg

ROOT = Path(__file__).resolve().parent.parent
LESSONS = ["no-pooling", "persistent-connections", "native-pool", "django-db-connection-pool"]
RUN_ID = re.compile(r'data-run-id="(\d+)" data-status="(\w+)"')
POSITION = re.compile(r'data-position="(\d+)"')
FORM = re.compile(r'<form class="demo-form" method="post" action="/demos/runs/".*?</form>', re.S)
FIELD = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@dataclass
class Figures:
    latency: dict[str, list[float]] = field(default_factory=lambda: {"page": [], "poll": []})
    statuses: Counter = field(default_factory=Counter)
    runs: Counter = field(default_factory=Counter)
    positions: list[int] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)


class Learner:
    """One browser: its own cookies (kept by hand: the production cookies are Secure)."""

    def __init__(self, base: str, figures: Figures, http: aiohttp.ClientSession) -> None:
        self.base, self.figures, self.http = base, figures, http
        self.cookies: dict[str, str] = {}
        self.lesson = random.choice(LESSONS)

    async def get(self, path: str, kind: str | None, htmx: bool = False) -> str:
        return await self._send("GET", path, kind, htmx)

    async def _send(self, method: str, path: str, kind: str | None, htmx: bool, data=None) -> str:
        headers = {
            "X-Forwarded-Proto": "https",  # what the instructor's TLS proxy would add
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
        }
        if htmx:
            headers["HX-Request"] = "true"
        if method == "POST":
            host = self.base.removeprefix("http://")
            headers |= {
                "X-CSRFToken": self.cookies.get("csrftoken", ""),
                "Origin": f"https://{host}",
                "Referer": f"https://{host}/lessons/{self.lesson}/",
            }
        started = time.perf_counter()
        try:
            async with self.http.request(
                method, self.base + path, headers=headers, data=data, allow_redirects=False
            ) as response:
                body = await response.text()
                status = response.status
                for cookie in response.cookies.values():
                    self.cookies[cookie.key] = cookie.value
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.figures.statuses["no answer"] += 1
            self.figures.server_errors.append(f"{method} {path}: {exc!r}")
            return ""
        if kind:
            self.figures.latency[kind].append((time.perf_counter() - started) * 1000)
        self.figures.statuses[status] += 1
        if status >= 500:
            self.figures.server_errors.append(f"{method} {path}: {status}")
        self.last_status = status
        return body

    async def visit(self, until: float) -> None:
        page = await self.get(f"/lessons/{self.lesson}/", "page")
        for asset in re.findall(r'(?:href|src)="(/static/[^"]+)"', page):
            await self.get(asset, None)  # once: the browser caches them
        await self.get(f"/lessons/{self.lesson}/state/", "poll", htmx=True)
        forms = [dict(FIELD.findall(form)) for form in FORM.findall(page)]
        monitor = asyncio.create_task(self.watch_monitor(until))
        await asyncio.sleep(random.uniform(0, 10))
        while time.monotonic() < until and forms:
            await self.run_demo(random.choice(forms), until)
            await asyncio.sleep(random.uniform(8, 12))
        await monitor

    async def watch_monitor(self, until: float) -> None:
        while time.monotonic() < until:
            await self.get("/monitor/?scope=mine", "poll", htmx=True)
            await asyncio.sleep(1)

    async def run_demo(self, form: dict[str, str], until: float) -> None:
        body = await self._send("POST", "/demos/runs/", None, True, data=form)
        found = RUN_ID.search(body)
        if not found:
            self.figures.runs[f"refused {self.last_status}"] += 1
            return
        self.figures.runs["started"] += 1
        run_id, status = found.groups()
        while status in {"queued", "running"} and time.monotonic() < until + 60:
            await asyncio.sleep(0.4)
            body = await self.get(f"/runs/{run_id}/", "poll", htmx=True)
            if position := POSITION.search(body):
                self.figures.positions.append(int(position.group(1)))
            found = RUN_ID.search(body)
            status = found.group(2) if found else "lost"
        self.figures.runs[status] += 1


async def sample_connections(dsn: str, until: float, peaks: Counter) -> None:
    """The most connections PostgreSQL held at once, per role, during the load."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < until:
            rows = await (
                await conn.execute(
                    "SELECT usename, count(*) FROM pg_stat_activity WHERE usename IS NOT NULL"
                    " GROUP BY usename"
                )
            ).fetchall()
            total = sum(n for _, n in rows)
            peaks["all"] = max(peaks["all"], total)
            for user, n in rows:
                peaks[user] = max(peaks[user], n)
            await asyncio.sleep(0.5)


async def room(base: str, learners: int, seconds: float, dsn: str) -> tuple[Figures, Counter]:
    figures, peaks = Figures(), Counter()
    until = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        crowd = [Learner(base, figures, http) for _ in range(learners)]
        sampler = asyncio.create_task(sample_connections(dsn, until, peaks))

        # Learners arrive over the first 10 seconds, as a room does.
        async def arrive(learner: Learner, delay: float) -> None:
            await asyncio.sleep(delay)
            await learner.visit(until)

        await asyncio.gather(*(arrive(c, i * 10 / learners) for i, c in enumerate(crowd)))
        await sampler
    return figures, peaks


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_lab(folder: Path) -> tuple[subprocess.Popen, str, str]:
    port, pg_port = free_port(), free_port()
    env = {
        **os.environ,
        "POOLING_LAB_PRODUCTION": "1",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",  # the simulated TLS proxy already said https
        "POOLING_LAB_DIR": str(folder),
        "POOLING_LAB_PG_PORT": str(pg_port),
    }
    env.pop("DATABASE_URL", None)
    ports = [f"--{name}-port={free_port()}" for name in ("demo", "asgi", "pgbouncer")]
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "tutorial", "--port", str(port), *ports],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for line in proc.stdout:
        print("  lab:", line.rstrip())
        if "Demo servers:" in line:
            break
    else:
        raise SystemExit("the lab did not start")
    dsn = f"host=127.0.0.1 port={pg_port} dbname=pooling_lab user=postgres"
    return proc, f"http://127.0.0.1:{port}", dsn


def pct(values: list[float], p: int) -> float | None:
    if len(values) < 2:
        return round(values[0], 1) if values else None
    return round(statistics.quantiles(values, n=100, method="inclusive")[p - 1], 1)


def report(figures: Figures, peaks: Counter, budget: dict, args) -> dict:
    return {
        "learners": args.learners,
        "seconds": args.seconds,
        "pages": {"n": len(figures.latency["page"]), "p50_ms": pct(figures.latency["page"], 50),
                  "p95_ms": pct(figures.latency["page"], 95)},
        "polls": {"n": len(figures.latency["poll"]), "p50_ms": pct(figures.latency["poll"], 50),
                  "p95_ms": pct(figures.latency["poll"], 95)},
        "statuses": {str(k): v for k, v in sorted(figures.statuses.items(), key=str)},
        "server_errors": len(figures.server_errors),
        "runs": dict(figures.runs),
        "largest_queue_position": max(figures.positions, default=0),
        "peak_connections": dict(peaks),
        "budget": budget,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--site", help="a running lab (its DATABASE via --dsn)")
    parser.add_argument("--dsn", help="libpq string of the lab's PostgreSQL, with --site")
    args = parser.parse_args()
    if not 1 <= args.learners <= 500 or not 5 <= args.seconds <= 600:
        raise SystemExit("--learners 1..500, --seconds 5..600")
    with tempfile.TemporaryDirectory(prefix="room-") as folder:
        proc = None
        if args.site:
            base, dsn = args.site.rstrip("/"), args.dsn
            if not base.startswith("http://127.") or not dsn:
                raise SystemExit("--site must be a loopback URL, with --dsn")
        else:
            proc, base, dsn = start_lab(Path(folder))
        try:
            with urllib.request.urlopen(
                urllib.request.Request(base + "/api/lab", headers={"X-Forwarded-Proto": "https"})
            ) as answer:
                lab = json.load(answer)
            budget = {"demo": lab["connection_budget"], "slices": lab["budget_slices"],
                      "max_connections": lab["postgres"]["max_connections"]}  # fmt: skip
            print(f"{args.learners} learners for {args.seconds:g} s against {base}")
            figures, peaks = asyncio.run(room(base, args.learners, args.seconds, dsn))
        finally:
            if proc is not None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(60)
    result = report(figures, peaks, budget, args)
    print(json.dumps(result, indent=2))
    for line in figures.server_errors[:10]:
        print("  server error:", line)


if __name__ == "__main__":
    main()
