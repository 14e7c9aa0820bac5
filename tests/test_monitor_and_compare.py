"""The live monitor, run comparison and the benchmark command, on the real lab."""

from __future__ import annotations

import io
import json
import re
import shutil
import time

import pytest
from django.core.management import call_command

from .support import pids, require


def poll_monitor(site, until, timeout: float = 6) -> str:
    """Poll the monitor partial (as the page does, every second) until `until(html)`."""
    deadline = time.monotonic() + timeout
    while True:
        status, body, _ = site.request("GET", "/monitor/", headers={"HX-Request": "true"})
        html = body.decode()
        assert status == 200 and "<html" not in html
        if until(html) or time.monotonic() > deadline:
            return html
        time.sleep(0.3)


def test_monitor_partial_lists_the_backends_a_run_left_open(site):
    run = site.run("persistent", {"conn_max_age": 600}, requests=8, concurrency=4)
    wanted = {f"<td>{pid}</td>" for pid in pids(run)}
    html = poll_monitor(site, lambda html: all(w in html for w in wanted))
    assert all(w in html for w in wanted)
    # Samples a second apart give the chart a line: the persistent series (index 1).
    html = poll_monitor(site, lambda html: 'class="series s1"' in html)
    assert re.search(r'<polyline class="series s1" points="[\d., ]+"', html)
    assert ">now</text>" in html  # the time axis is labelled


def test_the_monitor_samples_on_a_clock_whatever_the_polling_rate(site, lab):
    from lessons.models import MonitorSample

    before = MonitorSample.objects.count()
    started = time.monotonic()
    for _ in range(60):
        site.request("GET", "/api/connections?scope=all")
    elapsed = time.monotonic() - started
    # 60 polls in `elapsed` seconds: at most one sample per second was taken.
    assert MonitorSample.objects.count() - before <= elapsed + 1


def test_two_runs_compare_in_one_aligned_table(site, learner):
    small = site.run("no-pool", requests=4, concurrency=1)
    large = site.run("no-pool", requests=8, concurrency=1)
    html = site.text(f"/runs/compare/?ids={small['id']}&ids={large['id']}")
    heads = re.findall(r'<th scope="col"><a href="/runs/(\d+)/">', html)
    assert heads == [str(small["id"]), str(large["id"])]
    row = re.search(r"Distinct backend PIDs</th><td>(\d+)</td><td>(\d+) <span", html)
    # No pooling: one backend per request, 4 and 8; the second column shows the change.
    assert row.groups() == ("4", "8")
    assert '<span class="delta">(+4)</span>' in html
    # Another learner cannot compare (or see) my runs.
    theirs = learner.text(f"/runs/compare/?ids={small['id']}")
    assert f'href="/runs/{small["id"]}/"' not in theirs


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
    answer = json.loads(table)
    rows = {row["target"]: row for row in answer["targets"]}
    assert {"no-pool", "persistent", "native-pool", "dbcp"} <= set(rows)
    assert {"bare Django, pool", "bare Django, no pool"} <= set(rows)
    # The comparison is made round by round, from the rounds the table shows.
    compared = answer["comparison"]
    assert compared["rounds"] == 1
    pool, bare_pool = rows["native-pool"]["rounds"][0], rows["bare Django, pool"]["rounds"][0]
    assert compared["probe_vs_bare_pool"] == pytest.approx(pool / bare_pool)
    for row in rows.values():
        assert row["errors"] == 0 and row["req_per_s"] > 0 and row["p95_ms"] >= row["p50_ms"]
    # The native pool's default max_size is 4 per worker, 2 workers; the bare app's the same,
    # counted apart from its no-pool view's connections.
    assert rows["native-pool"]["peak_server_connections"] <= 8
    assert rows["bare Django, pool"]["peak_server_connections"] <= 8
