"""The sizing calculator through the site: GET /api/sizing, and lesson 10's demo.

The arithmetic itself is proven in test_sizing.py and the files in test_sizing_files.py;
here the HTTP side: the live server's max_connections as the default, 400s naming the
field, the demo's partials, and the copy buttons htmx's swap must not lose.
"""

from __future__ import annotations

import re
import urllib.parse

import pytest

from .browser import chromium
from .learning_support import lock_in
from .support import require

HTMX = {"HX-Request": "true"}


def query(**fields) -> str:
    return urllib.parse.urlencode(fields)


def test_totals_through_the_api_against_the_live_server(site):
    _, lab = site.get_json("/api/lab")
    status, answer = site.get_json(
        "/api/sizing?" + query(strategy="native-pool", instances=2, workers=4, threads=4)
    )
    assert status == 200
    # One pool per process: 2 instances x 4 workers x max_size 4 (the registry's default).
    assert answer["total_server_connections"] == 32
    # No max_connections given: the live server's, minus its 3 superuser slots.
    assert answer["max_connections"] == lab["postgres"]["max_connections"]
    assert answer["available"] == answer["max_connections"] - 3
    assert set(answer["files"]) == {"settings.py", "gunicorn.conf.py"}


def test_persistent_overcommits_at_100_with_a_warning_that_says_what_to_change(site):
    status, answer = site.get_json(
        "/api/sizing?"
        + query(strategy="persistent", instances=4, workers=8, threads=4, max_connections=100)
    )
    assert status == 200
    # 4 x 8 x 4: a connection per thread, against 100 - 3 superuser slots.
    assert (answer["total_server_connections"], answer["available"]) == (128, 97)
    assert answer["overcommitted"] and answer["over_by"] == 31
    assert "Lower threads to 3 per worker" in answer["warnings"][0]


def test_pgbouncer_counts_its_pools_and_writes_an_ini_for_the_version_named(site):
    status, answer = site.get_json(
        "/api/sizing?"
        + query(
            strategy="pgbouncer-transaction",
            instances=6,
            workers=4,
            threads=8,
            pgbouncer_pool_size=20,
            pgbouncer_instances=2,
            pgbouncer_version="1.18",
        )
    )
    assert status == 200
    # PostgreSQL sees only PgBouncer's pools: 2 processes x 20.
    assert answer["total_server_connections"] == 40
    # 1.18 has neither max_prepared_statements nor reserve_pool_size.
    ini = answer["files"]["pgbouncer.ini"]
    assert "PgBouncer 1.18" in ini and "reserve_pool=0" in ini
    assert "\nmax_prepared_statements" not in ini


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"strategy": "persistent", "instances": 0}, "instances"),
        ({"strategy": "persistent", "threads": "four"}, "threads"),
        ({"strategy": "nope"}, "strategy"),
        ({}, "strategy"),
        ({"strategy": "native-pool", "max_size": "abc"}, "max_size"),
        ({"strategy": "native-pool", "conn_max_age": 60}, "conn_max_age"),
        ({"strategy": "persistent", "max_connections": 0}, "max_connections"),
        ({"strategy": "persistent", "colour": "blue"}, "colour"),
        ({"strategy": "pgbouncer-session", "pgbouncer_version": "2.0"}, "pgbouncer_version"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(site, fields, field):
    status, answer = site.get_json("/api/sizing?" + query(**fields))
    assert status == 400, answer
    assert answer["field"] == field
    assert answer["error"] and "allowed" in answer


def test_the_result_partial_shows_totals_warnings_and_files(site):
    fields = query(
        anchor="demo-1",
        strategy="persistent",
        instances=4,
        workers=8,
        threads=4,
        max_connections=100,
    )
    status, body, _ = site.request("GET", "/demos/sizing/?" + fields, headers=HTMX)
    html = body.decode()
    assert status == 200
    assert not html.lstrip().startswith("<!doctype")  # a fragment for the demo
    assert 'id="demo-1-result"' in html
    assert re.search(r'data-testid="sizing-total">128<', html)
    assert "overcommitted by 31" in html and "Lower threads to 3 per worker" in html
    assert html.count('class="highlight"') == 2  # settings.py and gunicorn.conf.py


def test_without_javascript_the_form_is_a_page_that_keeps_what_was_typed(site):
    fields = query(strategy="native-pool", instances=2, workers=4, threads=4, max_size=4)
    html = site.text("/demos/sizing/?" + fields)
    assert html.lstrip().startswith("<!doctype")
    assert re.search(r'name="instances" value="2"', html)
    assert re.search(r'<option value="native-pool" selected>', html)
    assert re.search(r'data-testid="sizing-total">32<', html)


def test_a_bad_value_in_the_demo_is_shown_beside_its_field(site):
    status, body, _ = site.request(
        "GET", "/demos/sizing/?" + query(strategy="native-pool", max_size="abc")
    )
    html = body.decode()
    assert status == 400
    assert "max_size must be a whole number" in html
    assert re.search(r'name="max_size" value="abc"[^>]*aria-invalid="true"', html)


def test_another_strategy_brings_its_own_fields(site):
    html = site.text(
        "/demos/sizing/fields/?" + query(strategy="pgbouncer-transaction", anchor="demo-3")
    )
    assert 'id="demo-3-fields"' in html
    assert 'name="pgbouncer_pool_size"' in html and 'name="pgbouncer_version"' in html
    assert 'name="max_size"' not in html  # the native pool's, not PgBouncer's


def test_the_lesson_prefills_each_calculator_from_its_demo_line(site):
    html = site.text("/lessons/sizing/")
    first = html[html.index('id="demo-1"') : html.index('id="demo-1-out"')]
    # {{ demo sizing strategy=persistent instances=4 workers=8 threads=4 max_connections=100 }}
    assert '<option value="persistent" selected>' in first
    for name, value in {"instances": 4, "workers": 8, "threads": 4, "max_connections": 100}.items():
        assert f'name="{name}" value="{value}"' in first


@pytest.mark.browser
def test_the_calculator_in_chromium_answers_with_files_to_copy(site):
    with chromium() as context:
        page = context.new_page()
        page.goto(site.base + "/lessons/sizing/")
        lock_in(page, "demo-1", 128)  # this calculator answers a checkpoint: predict first
        demo = page.locator("section.demo.sizing").first
        demo.get_by_role("button", name="Calculate").click()
        demo.locator(".sizing-result").wait_for(timeout=10_000)
        assert demo.get_by_test_id("sizing-total").inner_text() == "128"
        # The files came in an htmx swap: site.js must still give each its Copy button.
        demo.get_by_role("button", name="Copy").nth(1).wait_for(timeout=5_000)
        assert demo.get_by_role("button", name="Copy").count() == 2
        # A strategy behind PgBouncer brings PgBouncer's fields, and a third file.
        demo.locator("select[name=strategy]").select_option("pgbouncer-transaction")
        demo.locator("input[name=pgbouncer_pool_size]").fill("20")
        demo.get_by_role("button", name="Calculate").click()
        demo.locator(".highlight[data-file='pgbouncer.ini']").wait_for(timeout=10_000)
        assert demo.get_by_test_id("sizing-total").inner_text() == "20"
        demo.get_by_role("button", name="Copy").nth(2).wait_for(timeout=5_000)  # after settle
        assert demo.get_by_role("button", name="Copy").count() == 3


def test_the_generated_settings_never_carry_the_lab_s_own_pgbouncer_login(site, lab):
    status, answer = site.get_json("/api/sizing?strategy=pgbouncer-transaction")
    assert status == 200
    settings_py = answer["files"]["settings.py"]
    bouncer = lab.pgbouncer_settings()
    require(bool(bouncer), "PgBouncer is not installed")
    # The learner's file names pgbouncer.ini's database and reads the login from the
    # environment; the lab's role, its password and its PgBouncer port are the lab's.
    assert '"NAME": "app"' in settings_py
    assert "pooling_lab_bouncer" not in settings_py
    assert f'"PORT": {bouncer["port"]}' not in settings_py
