"""The live monitor, run comparison and the benchmark command, on the real lab."""

from __future__ import annotations

import io
import json
import re
import shutil

import pytest
from django.core.management import call_command

from .support import pids, require


def test_monitor_partial_lists_the_backends_a_run_left_open(site):
    run = site.run("persistent", {"conn_max_age": 600}, requests=8, concurrency=4)
    # htmx asks for the partial only (the page polls it every second).
    status, body, _ = site.request("GET", "/monitor/", headers={"HX-Request": "true"})
    html = body.decode()
    assert status == 200 and "<html" not in html
    for pid in set(pids(run)):
        assert f"<td>{pid}</td>" in html
    # A second poll has two samples to draw: the chart shows the persistent series.
    _, body, _ = site.request("GET", "/monitor/", headers={"HX-Request": "true"})
    assert re.search(r'<polyline class="series s1" points="[\d., ]+"', body.decode())


def test_two_runs_compare_side_by_side(site):
    small = site.run("native-pool", {"min_size": 1, "max_size": 1}, requests=8, concurrency=4)
    large = site.run("native-pool", {"min_size": 1, "max_size": 4}, requests=8, concurrency=4)
    html = site.text(f"/runs/compare/?ids={small['id']}&ids={large['id']}")
    columns = re.findall(r'<section class="compare-col" aria-label="Run (\d+)">', html)
    assert columns == [str(small["id"]), str(large["id"])]
    shown = re.findall(r'data-testid="distinct-pids">(\d+)<', html)
    assert shown == [
        str(small["summary"]["distinct_backend_pids"]),
        str(large["summary"]["distinct_backend_pids"]),
    ]


@pytest.mark.parametrize("client", ["python", "wrk"])
def test_bench_command_measures_every_available_strategy_and_the_bare_view(lab, client):
    if client == "wrk":
        require(shutil.which("wrk") is not None, "wrk is not installed")
    out = io.StringIO()
    call_command(
        "bench",
        site=lab.url,
        requests=20,
        seconds=1,
        concurrency=4,
        rounds=1,
        json=True,
        python_client=client == "python",
        stdout=out,
    )
    header, table = out.getvalue().split("\n", 1)
    assert f"client: {'Python' if client == 'python' else 'wrk'}" in header
    rows = {row["target"]: row for row in json.loads(table)}
    assert set(rows) == {"no-pool", "persistent", "native-pool", "dbcp", "bare view (native pool)"}
    for row in rows.values():
        assert row["errors"] == 0 and row["req_per_s"] > 0 and row["p95_ms"] >= row["p50_ms"]
    # The native pool's default max_size is 4 per worker, 2 workers.
    assert rows["native-pool"]["peak_server_connections"] <= 8
