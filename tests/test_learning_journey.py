"""A learner's whole journey in Chromium: twelve lessons, every prediction, every demo,
every quiz question.

The journey reads each lesson's demos from the lessons themselves, so a demo added later
is clicked too: it locks in a guess before each demo that predicts one, starts each demo
that has a button and waits for its result, checks the measured figure lands beside the
guess, takes every hint before answering, and checks each lesson ends completed (by its
checks, or by hand where a demo has nothing to run yet). Throughout: no console error,
no failed request but those a fault demo provokes on purpose, and axe finds nothing
serious at desktop or phone width. A screenshot of each lesson at both widths goes to
screenshots/journey/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from lessons import content

from . import axe
from . import learning_support as learn
from .browser import chromium

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parent.parent / "screenshots" / "journey"
DESKTOP, PHONE = {"width": 1280, "height": 800}, {"width": 390, "height": 844}
# Demos that break something on purpose; until the next demo has run, a refused request
# (not a 404, never a 500) is what the lesson shows.
PROVOKING = {"terminate", "restart-postgres", "stop-pgbouncer"}
PROVOKED_STATUSES = {409, 429, 502, 503, 504}
RUN_TIMEOUT_MS = 120_000
# A demo's own start buttons: not those of a result shown in it (cancel, compare).
START_BUTTONS = "form button[type=submit]:not(.demo-out *):not(.recent *)"
FINISHED = """(id) => {
  const section = document.getElementById(id);
  if (section.querySelector('.htmx-request')) return false;
  const going = ['done', 'failed', 'cancelled'].map(s => `:not([data-status=${s}])`).join('');
  if (section.querySelector(`.run${going}`)) return false;
  // A fault (restart PostgreSQL, stop PgBouncer) is finished when the lab has done it.
  if (section.querySelector('.fault-status[data-under-way=true]')) return false;
  const out = section.querySelector('.demo-out');
  return !out || out.children.length > 0;
}"""


class Watch:
    """Console errors and failed requests, each either provoked by a fault demo or not."""

    def __init__(self, page: Any) -> None:
        self.trouble: list[str] = []
        self.provoked: list[str] = []
        self.provoking = False
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.trouble.append(f"page error: {exc}"))
        page.on("response", self._response)
        page.on("dialog", lambda dialog: dialog.accept())  # a demo's "are you sure?"

    def _response(self, response: Any) -> None:
        if response.status < 400:
            return
        line = f"{response.status} {response.request.method} {response.url}"
        if self.provoking and response.status in PROVOKED_STATUSES:
            self.provoked.append(line)
        else:
            self.trouble.append(line)

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        # Chromium logs every refused request again; the response above judged it already.
        if re.match(
            r"Failed to load resource: the server responded with a status of", message.text
        ):
            return
        self.trouble.append(f"console: {message.text}")


def _guess(checkpoint: Any, index: int) -> int:
    return index % len(checkpoint.choices) if checkpoint.answer == "choice" else 4 + index


def _run_demo(page: Any, watch: Watch, embed: Any) -> bool:
    """Start a demo the way a learner does; False when it has nothing to start."""
    section = page.locator(f"section#{embed.anchor}")
    buttons = section.locator(START_BUTTONS)
    if not buttons.count():
        return False
    watch.provoking = embed.name in PROVOKING or watch.provoking
    buttons.first.click()
    page.wait_for_function(FINISHED, arg=embed.anchor, timeout=RUN_TIMEOUT_MS)
    if embed.name == "restart-postgres":
        # A learner reads the result first: the site's connections have all reconnected.
        page.wait_for_function(
            "async () => (await fetch('/api/progress')).status === 200", timeout=30_000
        )
    if embed.name not in PROVOKING:
        watch.provoking = False
    return True


def _measured(page: Any, anchor: str, checkpoint: Any) -> str:
    """Wait for the figure beside the guess; a demo that ran without one fails loudly."""
    box = page.locator(f"#{anchor}-predict")
    work_it_out = box.get_by_role("button", name="Work it out")
    if work_it_out.count():
        work_it_out.click()
    try:
        box.locator(".verdict").wait_for(timeout=30_000)
    except Exception:
        pytest.fail(f"{checkpoint.id}: no measured figure beside the guess: {box.inner_text()}")
    return box.get_by_test_id("measured").inner_text()


def _do_demos(page: Any, watch: Watch, lesson: content.Lesson) -> tuple[set[str], set[str]]:
    ran, measured = set(), set()
    for index, embed in enumerate(lesson.embeds):
        checkpoint_id = embed.options.get("predict")
        checkpoint = next((c for c in lesson.checks.checkpoints if c.id == checkpoint_id), None)
        if checkpoint:
            learn.lock_in(page, embed.anchor, _guess(checkpoint, index))
        if _run_demo(page, watch, embed):
            ran.add(embed.anchor)
        if checkpoint and (embed.anchor in ran or embed.name == "sizing"):
            assert _measured(page, embed.anchor, checkpoint) not in ("", "not yet")
            measured.add(checkpoint.id)
    return ran, measured


def _answer_quiz(page: Any, lesson: content.Lesson) -> None:
    for index, question in enumerate(lesson.checks.quiz):
        item = page.locator(f"#quiz-{question.id}")
        hint = item.locator(".hint p")
        assert not hint.is_visible()
        item.get_by_text("Show a hint").click()
        assert hint.inner_text() == question.hint
        choice = (index + lesson.order) % len(question.choices)
        item.locator("input[name=choice]").nth(choice).check()
        item.get_by_role("button", name="Check my answer").click()
        page.locator(f"#quiz-{question.id}.is-answered").wait_for()
        verdict = item.get_by_test_id("quiz-verdict").inner_text()
        assert verdict == ("Correct." if choice == question.correct else "Not quite.")
        assert item.locator(".is-right").inner_text().startswith(question.choices[question.correct])


def _complete(page: Any, lesson: content.Lesson, measured: set[str]) -> None:
    done = page.locator("#complete .badge.done")
    if measured == {c.id for c in lesson.checks.checkpoints}:
        done.wait_for(timeout=10_000)  # completed by its own checks
    else:
        assert not done.count()
        page.get_by_role("button", name="Mark this lesson complete").click()
        done.wait_for()
    page.locator(f"#nav-{lesson.slug} .mark").wait_for()


def _look(page: Any, lesson: content.Lesson, found: dict[str, str]) -> None:
    """axe at both widths, and a screenshot of each for a person to look at."""
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.evaluate("window.scrollTo(0, 0)")  # the sticky sidebar sits at the top
        if violations := axe.blocking(page):
            found[f"{lesson.slug} ({name})"] = axe.describe(violations)
        page.screenshot(path=SHOTS / f"{lesson.order:02d}-{lesson.slug}-{name}.png", full_page=True)
    page.set_viewport_size(DESKTOP)


def test_a_learner_goes_through_all_twelve_lessons(lab):
    SHOTS.mkdir(parents=True, exist_ok=True)
    lessons = content.all_lessons()
    assert len(lessons) == 12
    started, found = time.monotonic(), {}
    with chromium(viewport=DESKTOP) as context:
        page = context.new_page()
        watch = Watch(page)
        page.goto(lab.url + "/")
        page.get_by_role("link", name=re.compile(lessons[0].title)).first.click()
        for lesson in lessons:
            page.wait_for_url(f"**/lessons/{lesson.slug}/")
            ran, measured = _do_demos(page, watch, lesson)
            _answer_quiz(page, lesson)
            _complete(page, lesson, measured)
            measured_demos = {
                e.anchor for e in lesson.embeds if e.options.get("predict") in measured
            }
            for anchor in ran | measured_demos:  # each demo that had its say shows what to see
                for box in page.locator(f"details.see[data-demo={anchor}]").all():
                    assert box.evaluate("d => d.open"), (lesson.slug, anchor)
            _look(page, lesson, found)
            if lesson is not lessons[-1]:
                page.locator("h1").click()  # focus out of any field: the shortcut is for pages
                page.keyboard.press("Shift+ArrowRight")
        page.goto(lab.url + "/")
        assert "12 of 12 lessons completed" in page.locator("#progress").inner_text()
        assert page.get_by_test_id("continue").get_attribute("href") == (
            f"/lessons/{lessons[-1].slug}/"
        )
        mine = page.request.get(lab.url + "/api/progress").json()
    assert found == {}, "\n".join(f"{where}:\n{text}" for where, text in found.items())
    assert watch.trouble == []
    wrong = []
    for lesson in lessons:
        answers = mine["answers"][lesson.slug]
        assert {c.id for c in lesson.checks.checkpoints} <= set(answers), lesson.slug
        assert {q.id for q in lesson.checks.quiz} <= set(answers), lesson.slug
        # What each lesson says its demo shows is what it showed (front matter `expect`).
        for checkpoint in lesson.checks.checkpoints:
            measured = answers[checkpoint.id].get("measured")
            if not checkpoint.claims(measured):
                wrong.append(
                    f"{lesson.slug} {checkpoint.id}: {measured!r}, not {checkpoint.expect}"
                )
    assert wrong == []
    # Bounded: twelve lessons, about forty runs of up to 200 requests each.
    assert time.monotonic() - started < 600
