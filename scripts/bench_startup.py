"""Start-up and page-time targets of `manage.py tutorial`, measured.

- cold start: a new data folder (initdb, migrations, collectstatic), packages installed;
- warm start: the same folder again;
- lesson page: round-trip time of /lessons/no-pooling/ on loopback (an upper bound
  of the server's time), p50 over 200 requests.

Usage: uv run python scripts/bench_startup.py
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _demo_ready_at(proc: subprocess.Popen, began: float, out: list[float]) -> None:
    for line in proc.stdout:
        if line.startswith("Demo server:"):
            out.append(time.perf_counter() - began)


def start(lab_dir: Path) -> tuple[subprocess.Popen, float, str, list[float]]:
    port = free_port()
    env = {**os.environ, "POOLING_LAB_DIR": str(lab_dir), "POOLING_LAB_PG_PORT": str(free_port())}
    env.pop("DATABASE_URL", None)
    began = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "tutorial",
            "--port",
            str(port),
            "--demo-port",
            str(free_port()),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    demo: list[float] = []
    threading.Thread(target=_demo_ready_at, args=(proc, began, demo), daemon=True).start()
    url = f"http://127.0.0.1:{port}/"
    # gunicorn listens before its worker has booted: a connection made early waits
    # for the worker, so the timeout is long and the first answer is timed exactly.
    while time.perf_counter() - began < 120:
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                if response.status == 200:
                    first_page = time.perf_counter() - began
                    while not demo and time.perf_counter() - began < 60:
                        time.sleep(0.05)
                    return proc, first_page, url, demo
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the lab did not start within 120 s")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)


def page_times(url: str, n: int = 200) -> tuple[list[float], list[float]]:
    # A learner keeps a session cookie (progress); so does this client.
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    times, server = [], []
    for _ in range(n):
        began = time.perf_counter()
        with opener.open(url + "lessons/no-pooling/", timeout=10) as response:
            response.read()
            timing = response.headers["Server-Timing"]
        times.append((time.perf_counter() - began) * 1000)
        server.append(float(timing.split("dur=")[1].split(";")[0]))
    return times, server


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        lab_dir = Path(tmp) / "lab"
        proc, cold, _, cold_demo = start(lab_dir)
        stop(proc)
        warm, warm_demo = [], []
        for _ in range(3):
            proc, seconds, url, demo = start(lab_dir)
            warm.append(seconds)
            if len(warm) == 3:
                page, server = page_times(url)
            stop(proc)
            warm_demo += demo
    print(
        f"cold start to first page: {cold:.2f} s (target <= 30 s); demo server ready at "
        f"{cold_demo[0]:.2f} s"
    )
    print(
        f"warm start to first page: median {statistics.median(warm):.2f} s of "
        f"{', '.join(f'{w:.2f}' for w in warm)} (target <= 5 s)"
    )
    print(
        f"lesson page server time (Server-Timing): p50 {statistics.median(server):.2f} ms, "
        f"p95 {statistics.quantiles(server, n=20)[18]:.2f} ms (target p50 <= 10 ms)"
    )
    print(
        f"lesson page round trip: p50 {statistics.median(page):.2f} ms, "
        f"p95 {statistics.quantiles(page, n=20)[18]:.2f} ms over {len(page)}"
    )


if __name__ == "__main__":
    main()
