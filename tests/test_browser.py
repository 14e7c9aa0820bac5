"""The real site in Chromium: what a learner clicks and sees."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .browser import chromium, session_of
from .learning_support import lock_in

pytestmark = pytest.mark.browser


def test_lesson_two_demo_shows_ten_distinct_backend_pids(lab, site):
    with chromium() as context:
        page = context.new_page()
        page.goto(lab.url + "/")
        page.get_by_role("link", name=re.compile("No pooling")).first.click()
        page.wait_for_url(re.compile("/lessons/no-pooling/"))
        demo = page.locator(
            "section.demo", has=page.locator("input[name=strategy][value=no-pool]")
        ).first
        lock_in(page, "demo-1", 10)  # predict, then run
        demo.locator("form button[type=submit]").click()
        run = demo.locator(".run[data-status=done]")
        run.wait_for(timeout=30_000)
        shown = [
            int(p)
            for p in run.locator(".pids li[data-pid]").evaluate_all(
                "items => items.map(i => i.dataset.pid)"
            )
        ]
        assert run.get_by_test_id("distinct_backend_pids").inner_text() == "10"
        run_id = run.get_attribute("data-run-id")
        # The page shows exactly the PIDs the API recorded for that run (the learner's own:
        # asked with the browser's session).
        _, api = session_of(context, lab.url).get_json(f"/api/runs/{run_id}")
    recorded = [r["backend_pid"] for r in api["results"]]
    assert len(set(shown)) == 10
    assert set(shown) == set(recorded)


def test_lesson_one_measures_the_connection_cost_live(lab):
    with chromium() as context:
        page = context.new_page()
        page.goto(lab.url + "/lessons/why-pooling/")
        demo = page.locator("section.demo").first
        lock_in(page, "demo-1", 40)
        demo.get_by_role("button", name="Measure now").click()
        connect = demo.get_by_test_id("connect-median")
        connect.wait_for(timeout=30_000)
        connect_ms = float(connect.inner_text().split()[0])
        query_ms = float(demo.get_by_test_id("query-median").inner_text().split()[0])
    assert connect_ms > 2 * query_ms


def test_progress_is_kept_and_shown_on_the_index(lab):
    with chromium() as context:
        page = context.new_page()
        page.goto(lab.url + "/lessons/persistent-connections/")
        page.get_by_role("button", name="Mark this lesson complete").click()
        page.get_by_text("Mark as not done").wait_for()
        page.goto(lab.url + "/")
        item = page.locator(
            ".toc-item", has=page.get_by_role("link", name=re.compile(r"^Persistent connections"))
        )
        assert "completed" in item.inner_text()
        assert re.search(r"1 of 12 lessons completed", page.locator("#progress").inner_text())


def test_pages_work_on_a_phone_in_dark_mode_without_sideways_scroll(lab):
    with chromium(viewport={"width": 375, "height": 740}, color_scheme="dark") as context:
        page = context.new_page()
        for path in ("/", "/lessons/native-pool/", "/monitor/", "/runs/compare/"):
            page.goto(lab.url + path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375, (path, width)
            background = page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert background == "rgb(20, 22, 26)", (path, background)


def test_keyboard_reaches_and_starts_a_demo(lab):
    with chromium() as context:
        page = context.new_page()
        page.goto(lab.url + "/lessons/no-pooling/")
        # First the prediction, by keyboard too: its field, a number, Enter.
        tab_to(page, page.locator("#demo-1-predict input[name=guess]"))
        page.keyboard.type("10")
        page.keyboard.press("Enter")
        page.locator("#demo-1-predict[data-committed]").wait_for()
        tab_to(page, page.locator("#demo-1 form button[type=submit]"))
        page.keyboard.press("Enter")
        page.locator("section.demo .run").first.wait_for(timeout=30_000)


def tab_to(page, target) -> None:
    for _ in range(120):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    pytest.fail("Tab never reached it")


def test_pages_work_offline_with_vendored_assets_and_copy_buttons(lab):
    outside: list[str] = []
    with chromium() as context:
        # Anything not served by the lab itself is refused, as on a machine with no network.
        def route(route):
            if route.request.url.startswith(lab.url):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.goto(lab.url + "/lessons/native-pool/")
        assert page.evaluate("typeof htmx") == "object"  # vendored htmx loaded
        copy = page.locator(".highlight .copy").first
        assert copy.inner_text() == "Copy"
        copy.click()
        # The clipboard answers asynchronously; wait for the button to say what happened.
        expect(copy).to_have_text(re.compile(r"^(Copied|Selected: press Ctrl-C)$"))
        page.get_by_role("link", name="Monitor").click()
        page.locator(".monitor table").wait_for()
    assert outside == []


def test_a_refused_choice_is_shown_to_the_learner(lab):
    with chromium() as context:
        page = context.new_page()
        page.goto(lab.url + "/lessons/django-db-connection-pool/")
        form = page.locator("section.demo.lab form.lab-form").first
        form.locator("input[name='param.pool_size']").fill("20")
        form.locator("input[name='param.max_overflow']").fill("20")
        form.get_by_role("button", name="Run").click()
        alert = page.locator("section.demo.lab [role=alert]").first
        alert.wait_for(timeout=10_000)
        # The 409 answer, swapped in: it names the budget.
        assert "connection budget" in alert.inner_text()


def test_two_lab_runs_are_listed_and_compared_side_by_side(lab):
    with chromium() as context:
        page = context.new_page()
        page.goto(lab.url + "/lessons/native-pool/")
        form = page.locator("section.demo.lab").first
        ids = []
        for size in ("1", "3"):
            form.locator("input[name='param.min_size']").fill("1")
            form.locator("input[name='param.max_size']").fill(size)
            form.locator("input[name='requests']").fill("8")
            form.get_by_role("button", name="Run").click()
            # A finished run not already in the list (the first one stays on the page
            # until the second replaces it).
            done = form.locator(
                ".run[data-status=done]" + "".join(f":not([data-run-id='{i}'])" for i in ids)
            ).first
            done.wait_for(timeout=30_000)
            ids.append(done.get_attribute("data-run-id"))
            # The finished run tells the page; the list of past runs then shows it.
            form.locator(f"form.recent input[value='{ids[-1]}']").wait_for(timeout=10_000)
        for run_id in ids:
            form.locator(f"form.recent input[value='{run_id}']").check()
        form.locator("form.recent").get_by_role("button", name="Compare").click()
        page.wait_for_url("**/runs/compare/**")
        # One aligned table, a column per run.
        columns = page.locator("table.compare-table thead th a").evaluate_all(
            "links => links.map(a => a.getAttribute('href'))"
        )
    assert sorted(columns) == sorted(f"/runs/{i}/" for i in ids)
