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
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(lab_dir: Path) -> tuple[subprocess.Popen, float, str]:
    port = free_port()
    env = {**os.environ, "POOLING_LAB_DIR": str(lab_dir), "POOLING_LAB_PG_PORT": str(free_port())}
    env.pop("DATABASE_URL", None)
    began = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "manage.py", "tutorial", "--port", str(port),
                             "--demo-port", str(free_port())], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    while time.perf_counter() - began < 120:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return proc, time.perf_counter() - began, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the lab did not start within 120 s")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)


def page_times(url: str, n: int = 200) -> list[float]:
    times = []
    for _ in range(n):
        began = time.perf_counter()
        with urllib.request.urlopen(url + "lessons/no-pooling/", timeout=10) as response:
            response.read()
        times.append((time.perf_counter() - began) * 1000)
    return times


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        lab_dir = Path(tmp) / "lab"
        proc, cold, _ = start(lab_dir)
        stop(proc)
        warm = []
        for _ in range(3):
            proc, seconds, url = start(lab_dir)
            warm.append(seconds)
            if len(warm) == 3:
                page = page_times(url)
            stop(proc)
    print(f"cold start to first page: {cold:.2f} s (target <= 30 s)")
    print(f"warm start to first page: median {statistics.median(warm):.2f} s of "
          f"{', '.join(f'{w:.2f}' for w in warm)} (target <= 5 s)")
    print(f"lesson page round trip: p50 {statistics.median(page):.2f} ms, "
          f"p95 {statistics.quantiles(page, n=20)[18]:.2f} ms over {len(page)} (target p50 <= 10 ms)")


if __name__ == "__main__":
    main()
