"""The benchmark lab: a benchmark through the site, its figures, its charts, and whose it is.

The benchmarks here are short (1-second rounds) so that the suite stays quick; the figures
asserted are the ones that do not depend on the machine's speed: every available strategy
measured, no errors, and connection peaks within what each strategy can open.
"""

from __future__ import annotations

import re
import time

import pytest

from lessons.benchmarks import charts, figures

from . import axe
from .browser import chromium
from .learning_support import lock_in
from .support import require

HTMX = {"HX-Request": "true"}
CONCURRENCY = 4


def _finished(site, url: str, timeout: float = 120) -> dict:
    run = site.wait(url, timeout)
    assert run["status"] == "done", run.get("error")
    return run


@pytest.fixture(scope="module")
def benchmark(lab):
    """One benchmark of every available strategy, run by one learner through the API."""
    from .support import Http

    site = Http(lab.url)
    status, created = site.post_json("/api/benchmarks", {"seconds": 1, "concurrency": CONCURRENCY})
    assert status == 201, created
    return site, created, _finished(site, created["url"])


@pytest.mark.django_db
def test_a_benchmark_measures_every_available_strategy_to_completion(benchmark, lab):
    site, created, run = benchmark
    require(bool(lab.pgbouncer_settings()), "PgBouncer is not installed")
    _, listed = site.get_json("/api/strategies")
    available = [s["slug"] for s in listed if s["available"]]
    assert run["strategies"] == available
    assert [r["strategy"] for r in run["results"]] == available
    # One 1-second round per strategy, each counted once.
    assert run["progress"] == {"done": len(available), "total": len(available)}
    for line in run["results"]:
        assert line["errors"] == 0, line
        assert line["req_per_s"] > 0 and 0 < line["p50_ms"] <= line["p95_ms"], line
        assert line["peak_server_connections"] >= 1, line
    peak = {r["strategy"]: r["peak_server_connections"] for r in run["results"]}
    # Behind PgBouncer, PostgreSQL sees only its pool, whatever the clients: the default
    # pool_size is 4 in session mode and 2 in transaction mode. (The in-process strategies
    # have no such hard bound in a sample: a closed backend is still listed while it exits.)
    assert peak["pgbouncer-session"] <= 4
    assert peak["pgbouncer-transaction"] <= 2
    # A benchmark is one of the learner's runs, queued and stored like the others.
    _, mine = site.get_json("/api/runs")
    assert any(r["id"] == created["id"] and r["kind"] == "benchmark" for r in mine)


@pytest.mark.django_db
def test_the_benchmark_block_draws_three_charts_with_numbers_on_the_bars(benchmark):
    site, created, run = benchmark
    status, body, headers = site.request("GET", f"/benchmarks/{created['id']}/", headers=HTMX)
    html = body.decode()
    assert status == 200
    # Finished: the block stops polling and tells the page, so the list refreshes.
    assert "benchmarkDone" in headers.get("HX-Trigger", "") and "every 1s" not in html
    assert html.count("<svg") == 3
    # Each strategy's req/s is written on its bar, as the chart formats it.
    for line in run["results"]:
        assert f'class="bar-value">{charts.rate(line["req_per_s"])}</text>' in html
    # p95 beside p50, in the strategy's colour (a class: no inline style under the CSP).
    assert len(re.findall(r'class="bar outline hue-\d+"', html)) == len(run["results"])
    page = site.text(f"/benchmarks/{created['id']}/")
    assert page.lstrip().startswith("<!doctype") and "<svg" in page


@pytest.mark.django_db
def test_my_benchmarks_are_listed_and_two_compare_chart_by_chart(benchmark):
    site, created, _ = benchmark
    status, second = site.post_json(
        "/api/benchmarks", {"strategies": ["no-pool", "persistent"], "seconds": 1}
    )
    assert status == 201
    _finished(site, second["url"])
    mine = site.text("/demos/benchmarks/mine/?anchor=demo-2")
    assert f'value="{created["id"]}"' in mine and f'value="{second["id"]}"' in mine
    html = site.text(f"/benchmarks/compare/?ids={created['id']}&ids={second['id']}")
    # req/s, p50, p95 and peak: each chart with both benchmarks' bars.
    assert html.count("<svg") == 4
    assert f"#{created['id']} solid, #{second['id']} outlined" in html


@pytest.mark.django_db
def test_another_learner_cannot_read_it(benchmark, learner):
    _, created, _ = benchmark
    status, answer = learner.get_json(created["url"])
    assert status == 404, answer
    status, _, _ = learner.request("GET", f"/benchmarks/{created['id']}/")
    assert status == 404
    _, theirs = learner.get_json("/api/benchmarks")
    assert created["id"] not in [b["id"] for b in theirs]
    html = learner.text(f"/benchmarks/compare/?ids={created['id']}&ids={created['id'] + 1}")
    assert "<svg" not in html


def test_a_run_that_is_not_a_benchmark_is_not_found_as_one(site):
    run = site.run("no-pool", requests=1)
    status, answer = site.get_json(f"/api/benchmarks/{run['id']}")
    assert status == 404 and answer["field"] == "id"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"seconds": 0}, "seconds"),
        ({"seconds": 11}, "seconds"),
        ({"seconds": "abc"}, "seconds"),
        ({"seconds": 1.5}, "seconds"),
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": 33}, "concurrency"),
        ({"strategies": ["nope"]}, "strategies"),
        ({"strategies": 5}, "strategies"),
        ({"strategies": [","]}, "strategies"),
        ({"rounds": 3}, "rounds"),
        ([1, 2], "body"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(site, body, field):
    status, answer = site.post_json("/api/benchmarks", body)
    assert status == 400, answer
    assert answer["field"] == field and answer["error"]


def test_the_demo_form_without_javascript_redirects_to_the_benchmark_page(site):
    status, body, headers = site.request(
        "POST", "/demos/benchmarks/", form={"seconds": "11", "concurrency": "4"}
    )
    assert status == 400 and b"seconds must be" in body  # the page, with the message
    status, _, headers = site.request(
        "POST", "/demos/benchmarks/", form={"seconds": "1", "strategies": "no-pool"}
    )
    assert status == 302 and re.fullmatch(r"/benchmarks/\d+/", headers["Location"])
    bench_id = headers["Location"].split("/")[2]
    _finished(site, f"/api/benchmarks/{bench_id}")


def test_a_cancelled_benchmark_stops_within_seconds_and_keeps_its_rounds(site):
    status, body, _ = site.request(
        "POST", "/demos/benchmarks/", form={"seconds": "10"}, headers=HTMX
    )
    assert status == 201
    bench_id = re.search(r'data-benchmark-id="(\d+)"', body.decode()).group(1)
    # Ten 1-second rounds of every strategy: about a minute, were it not cancelled.
    deadline = time.monotonic() + 60
    while site.get_json(f"/api/benchmarks/{bench_id}")[1]["progress"]["done"] < 2:
        assert time.monotonic() < deadline, "no round was measured"
        time.sleep(0.2)
    asked = time.monotonic()
    status, _, _ = site.request("POST", f"/benchmarks/{bench_id}/cancel/", headers=HTMX)
    assert status == 200
    run = site.wait(f"/api/benchmarks/{bench_id}", timeout=30)
    # The round under way finishes (1 s, plus its warm-up), then the benchmark stops.
    assert run["status"] == "cancelled" and time.monotonic() - asked < 10
    assert 2 <= run["progress"]["done"] < run["progress"]["total"]


@pytest.mark.browser
@pytest.mark.parametrize(
    "mode",
    [
        {"color_scheme": "light", "viewport": {"width": 390, "height": 844}},
        {"color_scheme": "dark", "viewport": {"width": 1280, "height": 800}},
    ],
    ids=["light-phone", "dark-desktop"],
)
def test_the_lab_pages_with_results_are_axe_clean_and_never_scroll_sideways(benchmark, mode):
    site, created, _ = benchmark
    cookies = [{"name": c.name, "value": c.value, "url": site.base} for c in site.jar if c.value]
    found = {}
    with chromium(**mode) as context:
        context.add_cookies(cookies)
        page = context.new_page()
        for path, ready in [
            ("/lessons/measure/", "section.benchmark-demo .benchmark[data-status=done]"),
            ("/lessons/choosing/", ".evidence-guide"),
            (f"/benchmarks/compare/?ids={created['id']}&ids={created['id']}", "h1"),
            (f"/benchmarks/{created['id']}/", "svg"),
        ]:
            page.goto(site.base + path)
            page.locator(ready).first.wait_for(timeout=20_000)
            page.wait_for_function("() => !document.querySelector('.htmx-request')")
            if violations := axe.blocking(page):
                found[path] = axe.describe(violations)
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > mode["viewport"]["width"]:
                found[path + " (sideways)"] = f"{width} px wide"
        page.goto(site.base + "/lessons/sizing/")
        lock_in(page, "demo-1", 128)  # the calculator answers a checkpoint: predict first
        page.locator("section.demo.sizing").first.get_by_role("button", name="Calculate").click()
        page.locator(".sizing-result").first.wait_for(timeout=10_000)
        if violations := axe.blocking(page):
            found["/lessons/sizing/ after the calculator"] = axe.describe(violations)
    assert found == {}, "\n".join(f"{path}:\n{text}" for path, text in found.items())


# The fast tier: the figures and the charts, without a lab.


def test_a_strategy_s_figure_is_the_median_of_its_rounds():
    steps = [
        {"strategy": "no-pool", "round": 1, "req_per_s": 100.0, "p50_ms": 8.0, "p95_ms": 20.0,
         "peak_server_connections": 3, "errors": 0},
        {"strategy": "no-pool", "round": 2, "req_per_s": 300.0, "p50_ms": 4.0, "p95_ms": 9.0,
         "peak_server_connections": 4, "errors": 1},
        {"strategy": "no-pool", "round": 3, "req_per_s": 200.0, "p50_ms": 6.0, "p95_ms": 12.0,
         "peak_server_connections": 2, "errors": 0},
        {"strategy": "native-pool", "round": 1, "error": "OSError: wrk failed"},
    ]  # fmt: skip
    lines = figures.aggregate(steps, ["no-pool", "native-pool"])
    # Medians of 100/200/300 and so on; the peak is the most seen in any round.
    assert lines[0] | {"failed_rounds": []} == {
        "strategy": "no-pool",
        "req_per_s": 200.0,
        "p50_ms": 6.0,
        "p95_ms": 12.0,
        "peak_server_connections": 4,
        "errors": 1,
        "rounds": [100, 300, 200],
        "failed_rounds": [],
    }
    # A strategy with no measured round has no figures, and says why.
    assert lines[1]["req_per_s"] is None and lines[1]["failed_rounds"] == ["OSError: wrk failed"]


def test_the_headline_sets_the_fastest_against_no_pooling():
    lines = [
        {"strategy": "no-pool", "req_per_s": 250.0, "peak_server_connections": 8},
        {"strategy": "native-pool", "req_per_s": 1200.0, "peak_server_connections": 8},
    ]
    # 1200 / 250 = 4.8
    assert figures.headline(lines).startswith("Django's native pool served 4.8x")
    assert figures.short(lines) == "native-pool: 4.8x no-pool"


def test_bars_are_proportional_and_carry_their_numbers():
    chart = charts.bar_chart(
        [
            {"strategy": "no-pool", "values": [250.0]},
            {"strategy": "native-pool", "values": [1000.0]},
        ],
        [charts.Series("req_per_s", "req/s", "solid")],
        fmt=charts.rate,
        what="Requests per second",
    )
    short, long = (row["bars"][0] for row in chart["rows"])
    # The longest bar leaves room for its number; the other is a quarter of it.
    assert long["width"] == charts.WIDTH - charts.NUMBER_W
    assert short["width"] == pytest.approx(long["width"] / 4, abs=0.1)
    assert (short["text"], long["text"]) == ("250", "1,000")
    assert chart["label"] == "Requests per second: no-pool 250; native-pool 1,000"


def test_a_round_starts_from_its_strategy_alone(lab, demo):
    """Before each round the bench closes the owner's connections in every demo worker, so
    that one strategy's round never pays for another's aliases or open connections."""
    import psycopg

    from lessons import bench

    owner = "be0c4"
    for _ in range(8):  # persistent connections in the demo workers' threads
        status, body = demo.get_json(f"/probe/persistent/?owner={owner}&conn_max_age=600")
        assert status == 200, body
    dsn = lab.database_url.replace("postgres://", "postgresql://", 1)

    def held() -> int:
        with psycopg.connect(dsn, autocommit=True) as conn:
            query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
            return conn.execute(query, [f"pooling-lab:persistent:{owner}"]).fetchone()[0]

    assert held() >= 1
    found = bench.targets(owner)
    native = next(t for t in found if t.name == "native-pool")
    bench.run_round(
        lab.demo_url, native, requests=40, seconds=1, concurrency=4, use_wrk=False, workers=2
    )
    # Every worker closed this learner's persistent connections before the round began.
    assert held() == 0
    assert native.rates and native.errors == 0
    assert 1 <= native.peak <= 2 * 4  # the native pool's own connections, nothing else


def test_compared_targets_run_side_by_side_each_side_first_in_turn():
    from lessons import bare
    from lessons.bench import Target

    names = ["no-pool", "persistent", "native-pool", "dbcp", *bare.PAIRS.values()]
    found = [Target(name, "/", "app") for name in names]
    first, second = ([t.name for t in bare.order(found, i)] for i in (0, 1))
    assert first == [
        "native-pool", "bare Django, pool", "bare Django, no pool", "no-pool", "persistent", "dbcp"
    ]  # fmt: skip
    assert second[:4] == first[:4][::-1] and second[4:] == first[4:]
    # Without the bare app, the order is the registry's.
    assert [t.name for t in bare.order(found[:4], 1)] == names[:4]


def test_the_comparison_is_the_median_of_the_rounds_ratios():
    from lessons import bare

    rounds = {
        "native-pool": [900, 1800, 950],
        "no-pool": [100, 200, 100],
        "bare Django, pool": [1000, 2000, 1000],
        "bare Django, no pool": [100, 250, 100],
    }
    got = bare.ratios([{"target": name, "rounds": rates} for name, rates in rounds.items()])
    # A slow round and a fast one: each compared within itself.
    assert got["rounds"] == 3
    assert got["probe_vs_bare_pool"] == pytest.approx(0.9)
    assert got["probe_vs_bare_pool_range"] == pytest.approx([0.9, 0.95])
    assert got["lab_ratio"] == pytest.approx(9.0)
    assert got["bare_ratio"] == pytest.approx(10.0)
    assert got["ratio_vs_bare"] == pytest.approx(0.95)  # 9/10, 9/8, 9.5/10
    # A round that served nothing is left out, and with no round left there is no comparison.
    rounds = {name: [0, *rates] for name, rates in rounds.items()}
    again = bare.ratios([{"target": name, "rounds": rates} for name, rates in rounds.items()])
    assert again == got
    nothing = {name: [0] for name in rounds}
    assert (
        bare.ratios([{"target": name, "rounds": rates} for name, rates in nothing.items()]) is None
    )
