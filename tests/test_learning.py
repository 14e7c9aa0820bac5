"""Predict, then run; the quiz; progress that resumes: against the real lab.

Over HTTP the way the pages' htmx forms send it, and in Chromium for what only a browser
shows (the run button, the closed "What you should see" box, a downloaded file).
"""

from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import expect

from . import axe
from . import learning_support as learn
from .browser import chromium
from .support import Http

TEN_SEQUENTIAL = learn.run_form(
    "no-pooling",
    "demo-1",
    strategy="no-pool",
    requests=10,
    concurrency=1,
    hold_ms=0,
    work_ms=0,
    fresh="true",
)


def _measured_run(site: Http, guess: int = 8) -> int:
    learn.predict(site, "no-pooling", "no-pool-pids", guess)
    status, html = learn.start_predicted_run(site, "no-pooling", "no-pool-pids", TEN_SEQUENTIAL)
    assert status == 201, html
    run = site.wait(f"/api/runs/{learn.run_id(html)}")
    assert run["status"] == "done", run["error"]
    return run["id"]


def test_a_run_is_refused_until_a_prediction_is_locked_in(site):
    page = site.text("/lessons/no-pooling/")
    demo = page[page.index('id="demo-1"') :]
    assert "data-needs-prediction" in demo[: demo.index("</form>")]  # the button waits too
    status, html = learn.start_predicted_run(site, "no-pooling", "no-pool-pids", TEN_SEQUENTIAL)
    assert status == 409
    assert "lock in your prediction first" in html
    status, html = learn.predict(site, "no-pooling", "no-pool-pids", 8)
    assert status == 200 and 'data-committed="true"' in html
    status, html = learn.start_predicted_run(site, "no-pooling", "no-pool-pids", TEN_SEQUENTIAL)
    assert status == 201


def test_the_measured_figure_is_shown_beside_the_guess(site):
    run_id = _measured_run(site, guess=8)
    # Ten sequential requests without pooling: each opened and closed its own backend, so
    # 10 distinct PIDs; 8 is within a quarter of 10, so "close".
    assert learn.box(site, "no-pooling", "no-pool-pids") == {
        "guess": "8",
        "measured": "10",
        "verdict": "close",
    }
    _, mine = site.get_json("/api/progress")
    entry = mine["answers"]["no-pooling"]["no-pool-pids"]
    assert (entry["guess"], entry["measured"], entry["run"]) == (8, 10, run_id)


def test_a_guess_once_locked_in_stays(site):
    learn.predict(site, "no-pooling", "no-pool-pids", 8)
    learn.predict(site, "no-pooling", "no-pool-pids", 3)
    assert learn.box(site, "no-pooling", "no-pool-pids")["guess"] == "8"


def test_a_wrong_guess_is_refused_once_with_its_range(site):
    status, html = learn.predict(site, "no-pooling", "no-pool-pids", "ten")
    assert status == 400
    assert html.count("type a number") == 1
    assert "0 to 1,000,000" in html  # the allowed range sits beside the field


def test_the_cost_checkpoint_keeps_the_ratio_it_measured(site):
    learn.predict(site, "why-pooling", "cost-ratio", 40)
    status, body, _ = site.request(
        "POST",
        "/lessons/why-pooling/checkpoints/cost-ratio/cost/",
        form={"samples": "20"},
        headers=learn.HTMX,
    )
    assert status == 200
    shown = re.search(r"<strong>([\d.]+)\u00d7</strong>", body.decode()).group(1)
    _, mine = site.get_json("/api/progress")
    measured = mine["answers"]["why-pooling"]["cost-ratio"]["measured"]
    # The figure kept is the one the learner saw; a connect always costs more than SELECT 1.
    assert measured == float(shown) and measured > 1


def test_a_quiz_offers_a_hint_first_and_is_checked_on_the_server(site):
    page = site.text("/lessons/no-pooling/")
    quiz = page[page.index('id="quiz"') :]
    assert "Show a hint" in quiz
    assert "Look at which signals close_old_connections() is connected to." in quiz
    assert "the answer</span>" not in quiz and "is-right" not in quiz
    _, lessons = site.get_json("/api/lessons")
    assert not any("correct" in q for lesson in lessons for q in lesson["quiz"])

    url = "/lessons/no-pooling/quiz/q-close-old/"
    status, body, _ = site.request("POST", url, form={"choice": "0"}, headers=learn.HTMX)
    html = body.decode()
    assert status == 200 and "Not quite." in html
    right = re.search(r'<li class="is-right">([^<]*)<', html).group(1)
    assert right.startswith("When a request starts or finishes")
    # The first answer is the one kept.
    _, body, _ = site.request("POST", url, form={"choice": "1"}, headers=learn.HTMX)
    assert "Not quite." in body.decode()
    _, mine = site.get_json("/api/progress")
    entry = mine["answers"]["no-pooling"]["q-close-old"]
    assert (entry["choice"], entry["correct"]) == (0, False)

    status, body, _ = site.request(
        "POST", "/lessons/no-pooling/quiz/q-peak/", form={"choice": "7"}, headers=learn.HTMX
    )
    assert status == 400 and "Pick one of the choices" in body.decode()


def test_reading_makes_no_learner_and_doing_something_starts_the_record(site):
    site.text("/lessons/asgi/")
    assert not any(c.name == "sessionid" for c in site.jar)
    assert site.get_json("/api/progress")[1]["visited"] == []
    learn.predict(site, "no-pooling", "no-pool-pids", 10)
    site.text("/lessons/persistent-connections/")
    _, mine = site.get_json("/api/progress")
    assert mine["visited"] == ["no-pooling", "persistent-connections"]
    assert mine["last_lesson"] == "persistent-connections"
    index = site.text("/")
    assert re.search(r'href="/lessons/persistent-connections/" data-testid="continue"', index)


def test_a_lesson_completes_itself_once_every_check_is_done(site):
    learn.predict(site, "why-pooling", "cost-ratio", 40)
    site.request("POST", "/lessons/why-pooling/checkpoints/cost-ratio/cost/", form={"samples": "5"})
    on_page = {**learn.HTMX, "HX-Current-URL": site.base + "/lessons/why-pooling/"}
    for question in ("q-fork-first", "q-lower-bound", "q-two-costs"):
        assert "why-pooling" not in site.get_json("/api/progress")[1]["completed"]
        _, body, _ = site.request(
            "POST", f"/lessons/why-pooling/quiz/{question}/", form={"choice": "1"}, headers=on_page
        )
    # The last answer's response also brings the lesson page's completion form up to date.
    assert 'id="complete"' in body.decode() and "Mark as not done" in body.decode()
    assert site.get_json("/api/progress")[1]["completed"] == ["why-pooling"]
    html = site.text("/lessons/why-pooling/")
    assert re.search(r'id="nav-why-pooling">.*?\(completed\)', html)


def test_the_lessons_api_lists_checkpoints_and_quizzes_without_answers(site):
    status, lessons = site.get_json("/api/lessons")
    assert status == 200
    assert [lesson["order"] for lesson in lessons] == list(range(1, 13))
    for lesson in lessons:
        assert set(lesson) == {"slug", "title", "order", "minutes", "checkpoints", "quiz"}
        assert lesson["checkpoints"], lesson["slug"]  # every lesson predicts something
        assert 2 <= len(lesson["quiz"]) <= 4
        for question in lesson["quiz"]:
            assert set(question) == {"id", "ask", "choices", "hint"}


def test_an_imported_file_is_checked_and_a_wrong_one_refused_naming_the_field(site):
    _measured_run(site, guess=10)
    _, exported, headers = site.request("GET", "/api/progress/export")
    assert headers["Content-Disposition"].startswith("attachment; filename=")
    other = Http(site.base)
    body = json.loads(exported)
    for broken, field in [
        ({**body, "format": "zip"}, "format"),
        ({**body, "visited": ["no-pooling", "lesson-13"]}, "visited[1]"),
        ({**body, "answers": {"no-pooling": {"no-pool-pids": {"guess": "many"}}}},
         "answers.no-pooling.no-pool-pids.guess"),
    ]:  # fmt: skip
        status, refused = other.post_json("/api/progress/import", broken)
        assert (status, refused["field"]) == (400, field), refused
        assert refused["error"] and "allowed" in refused
    status, imported = other.post_json("/api/progress/import", body)
    assert status == 200
    assert imported == site.get_json("/api/progress")[1]


def test_reset_asks_for_confirmation_then_erases_progress(site):
    learn.predict(site, "no-pooling", "no-pool-pids", 10)
    status, refused = site.post_json("/api/progress/reset", {})
    assert (status, refused["field"], refused["allowed"]) == (400, "confirm", "reset")
    assert site.get_json("/api/progress")[1]["answers"]
    status, after = site.post_json("/api/progress/reset", {"confirm": "reset"})
    assert status == 200
    assert after == {"visited": [], "completed": [], "last_lesson": None, "answers": {}}


def test_the_lab_picture_draws_workers_pool_and_backends_from_the_run(site, lab):
    run = site.run("native-pool", {"min_size": 1, "max_size": 2}, 24, 8, hold_ms=50)
    html = site.text(f"/runs/{run['id']}/")
    picture = html[html.index('class="lab-picture"') : html.index("</figure>")]
    workers = re.findall(r"Worker <code>(\d+)</code>", picture)
    assert sorted(map(int, workers)) == run["summary"]["worker_pids"]
    # Every backend that served the run is drawn, under the worker whose pool holds it.
    drawn = {int(p) for p in re.findall(r'<li class="pid hue-\d+">(\d+)', picture)}
    assert drawn == {r["backend_pid"] for r in run["results"] if r["ok"]}
    assert "psycopg_pool: at most 2 at once" in picture
    # A pool of max_size 2 never lends more than 2 at once, however many threads ask.
    in_use = [int(n) for n in re.findall(r"<dt>in use at once</dt><dd>(\d+)</dd>", picture)]
    assert in_use and all(1 <= n <= 2 for n in in_use)
    assert "The pool after the run:" in picture


def test_the_lab_picture_fills_in_while_the_run_goes(site):
    created = site.start("native-pool", {"min_size": 1, "max_size": 2}, 40, 4, hold_ms=200)
    run_id = created["id"]
    # 40 requests of 200 ms, 4 at a time: about 2 s in which the picture is live.
    deadline = time.monotonic() + 60
    live = None
    while time.monotonic() < deadline and live is None:
        _, body, _ = site.request("GET", f"/runs/{run_id}/", headers=learn.HTMX)
        html = body.decode()
        if 'data-status="running"' in html and "in flight now" in html:
            live = html
        time.sleep(0.1)  # the page itself asks every 400 ms
    assert live is not None, "never saw the picture while the run was going on"
    in_flight = int(re.search(r"(\d+) requests? in flight now", live).group(1))
    assert 1 <= in_flight <= 4  # never more than the run's concurrency
    assert "Worker <code>" in live and "The pool after the run" not in live
    site.wait(created["url"])


@pytest.mark.browser
def test_the_run_waits_for_a_guess_and_the_see_box_opens_after_it(lab):
    with chromium() as context:
        page = context.new_page()
        page.goto(lab.url + "/lessons/no-pooling/")
        button = page.locator("#demo-1 form button[type=submit]")
        see = page.locator("details.see[data-demo=demo-1]")
        expect(button).to_be_disabled()
        assert not see.evaluate("d => d.open")
        learn.lock_in(page, "demo-1", 10)
        # Enabled once htmx has settled the box that says the guess is in.
        expect(button).to_be_enabled()
        button.click()
        page.locator("#demo-1 .run[data-status=done]").wait_for(timeout=30_000)
        measured = page.locator("#demo-1-predict [data-testid=measured]")
        measured.filter(has_text="10").wait_for(timeout=10_000)
        assert page.locator("#demo-1-predict [data-testid=guess]").inner_text() == "10"
        assert see.evaluate("d => d.open")
        # Coming back: the guess, the figure and the open box are all still there.
        page.reload()
        measured.filter(has_text="10").wait_for(timeout=10_000)
        page.wait_for_function("() => document.querySelector('details.see[data-demo=demo-1]').open")


@pytest.mark.browser
def test_export_then_import_in_a_new_browser_context_restores_progress(lab, tmp_path):
    with chromium() as context:
        page = context.new_page()
        page.goto(lab.url + "/lessons/no-pooling/")
        learn.lock_in(page, "demo-1", 9)
        page.locator("#demo-1 form button[type=submit]").click()
        page.locator("#demo-1-predict .verdict").wait_for(timeout=30_000)
        page.locator("#quiz-q-peak input[name=choice]").nth(1).check()
        page.locator("#quiz-q-peak").get_by_role("button", name="Check my answer").click()
        page.locator("#quiz-q-peak.is-answered").wait_for()
        page.goto(lab.url + "/progress/")
        with page.expect_download() as download:
            page.get_by_test_id("export").click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        before = page.request.get(lab.url + "/api/progress").json()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**json.loads(saved.read_text()), "version": 7}))
    with chromium() as context:
        page = context.new_page()
        page.goto(lab.url + "/progress/")
        page.locator("input[type=file]").set_input_files(bad)
        page.get_by_role("button", name="Import").click()
        refused = page.get_by_test_id("import-error")
        assert "version" in refused.inner_text()
        page.locator("input[type=file]").set_input_files(saved)
        page.get_by_role("button", name="Import").click()
        page.get_by_text("Your progress was imported.").wait_for()
        assert page.request.get(lab.url + "/api/progress").json() == before
        page.goto(lab.url + "/lessons/no-pooling/")
        box = page.locator("#demo-1-predict")
        box.locator("[data-testid=measured]").filter(has_text="10").wait_for(timeout=10_000)
        assert box.locator("[data-testid=guess]").inner_text() == "9"
        page.locator("#quiz-q-peak.is-answered").wait_for()


@pytest.mark.browser
def test_shift_arrows_move_between_lessons_but_not_while_typing(lab):
    with chromium() as context:
        page = context.new_page()
        page.goto(lab.url + "/lessons/no-pooling/")
        assert "Shift" in page.locator(".keys").inner_text()
        page.locator("#demo-1-predict input[name=guess]").focus()
        page.keyboard.press("Shift+ArrowRight")
        assert page.url.endswith("/lessons/no-pooling/")
        page.locator("h1").click()
        page.keyboard.press("Shift+ArrowRight")
        page.wait_for_url("**/lessons/persistent-connections/")
        page.keyboard.press("Shift+ArrowLeft")
        page.wait_for_url("**/lessons/no-pooling/")


@pytest.mark.browser
@pytest.mark.parametrize(
    "mode",
    [
        {"color_scheme": "dark", "viewport": {"width": 1280, "height": 800}},
        {"color_scheme": "light", "viewport": {"width": 390, "height": 844}},
        {"color_scheme": "dark", "viewport": {"width": 390, "height": 844}},
    ],
    ids=["dark-desktop", "light-phone", "dark-phone"],
)
def test_guesses_quiz_picture_and_progress_page_are_axe_clean(lab, mode):
    """Light desktop is the journey's; here the other three, with every part shown."""
    with chromium(**mode) as context:
        page = context.new_page()
        page.goto(lab.url + "/lessons/native-pool/")
        learn.lock_in(page, "demo-2", 3)
        page.locator("#demo-2 form button[type=submit]").click()
        page.locator("#demo-2-predict .verdict").wait_for(timeout=60_000)
        page.locator("#demo-2 .lab-picture").wait_for()
        page.locator("#quiz-q-shrink input[name=choice]").first.check()
        page.locator("#quiz-q-shrink").get_by_text("Show a hint").click()
        page.locator("#quiz-q-shrink").get_by_role("button", name="Check my answer").click()
        page.locator("#quiz-q-shrink.is-answered").wait_for()
        found = {"lesson": axe.blocking(page)}
        page.goto(lab.url + "/progress/")
        page.get_by_role("button", name="Reset my progress").click()  # refused: not ticked
        page.locator("input[type=file]").set_input_files(
            {"name": "x.json", "mimeType": "application/json", "buffer": b"[]"}
        )
        page.get_by_role("button", name="Import").click()
        page.get_by_test_id("import-error").wait_for()
        found["progress"] = axe.blocking(page)
        width = page.evaluate("document.documentElement.scrollWidth")
    assert {k: axe.describe(v) for k, v in found.items() if v} == {}
    assert width <= mode["viewport"]["width"]
