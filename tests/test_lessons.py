"""The lesson engine: twelve lessons, their demos, anchors and navigation."""

from __future__ import annotations

import re

import pytest

from lessons import content, demos

EXPECTED = [
    "why-pooling",
    "no-pooling",
    "persistent-connections",
    "native-pool",
    "django-db-connection-pool",
    "pgbouncer-modes",
    "pgbouncer-pitfalls",
    "asgi",
    "failure-and-recovery",
    "sizing",
    "measure",
    "choosing",
]


def test_the_twelve_lessons_load_in_order():
    lessons = content.all_lessons()
    assert [lesson.slug for lesson in lessons] == EXPECTED
    assert [lesson.order for lesson in lessons] == list(range(1, 13))
    for lesson in lessons:
        assert lesson.title and lesson.minutes > 0 and lesson.objectives, lesson.slug


def test_every_embedded_demo_is_known_and_listed_in_front_matter():
    for lesson in content.all_lessons():
        names = {e.name for e in lesson.embeds}
        assert names <= set(demos.DEMOS), lesson.slug
        assert names <= set(lesson.demos), (lesson.slug, names - set(lesson.demos))


def test_lesson_two_embeds_a_ten_request_no_pool_burst():
    lesson = content.by_slug()["no-pooling"]
    burst = next(e for e in lesson.embeds if e.name == "burst")
    assert burst.strategy.slug == "no-pool"
    # fresh: every learner who presses it starts cold, so everyone sees the same 10 PIDs.
    assert burst.run == {
        "requests": 10,
        "concurrency": 1,
        "hold_ms": 0,
        "work_ms": 0,
        "fresh": "true",
    }


def test_a_demo_with_an_unknown_option_fails_at_load():
    with pytest.raises(ValueError, match="no option 'colour'"):
        demos.embed("burst", 1, {"strategy": "no-pool", "colour": "red"})
    with pytest.raises(ValueError, match="unknown demo"):
        demos.embed("fireworks", 1, {})
    with pytest.raises(ValueError, match="requests"):
        demos.embed("burst", 1, {"strategy": "no-pool", "requests": "9999"})


def test_headings_get_stable_anchors_from_their_text(site):
    html = site.text("/lessons/no-pooling/")
    lesson = content.by_slug()["no-pooling"]
    assert len(lesson.toc) >= 3
    for heading in lesson.toc:
        # The anchor is the heading's text, lower-cased and dashed: the same text
        # always gives the same link, so deep links survive edits elsewhere.
        expected = re.sub(r"[^\w\s-]", "", heading["name"].lower()).strip()
        assert heading["id"] == re.sub(r"[\s-]+", "-", expected)
        assert f'id="{heading["id"]}"' in html
        assert f'href="#{heading["id"]}"' in html


def test_lesson_page_has_prev_next_and_highlighted_code(site):
    html = site.text("/lessons/persistent-connections/")
    assert 'rel="prev" href="/lessons/no-pooling/"' in html
    assert 'rel="next" href="/lessons/native-pool/"' in html
    assert 'class="highlight"' in html  # Pygments


def test_unknown_lesson_is_a_404_page(site):
    status, body, _ = site.request("GET", "/lessons/nope/")
    assert status == 404 and b"Not found" in body


def test_every_page_renders_without_template_leftovers(site):
    for path in [*(f"/lessons/{slug}/" for slug in EXPECTED), "/", "/monitor/", "/runs/compare/"]:
        html = site.text(path)
        assert "<h1>" in html and "Traceback" not in html
        # Template syntax in the output means a tag or comment was not closed right.
        assert "{#" not in html and "{%" not in html, path


def test_progress_is_stored_in_postgresql_not_in_a_process(site, lab):
    site.text("/lessons/asgi/")
    status, _, _ = site.request("POST", "/lessons/asgi/complete/", form={"done": "true"})
    assert status == 302
    # This process (not the site's) reads it from PostgreSQL: it survives a restart.
    from django.contrib.sessions.backends.db import SessionStore

    from lessons.models import Learner

    key = next(c.value for c in site.jar if c.name == "sessionid")
    learner = SessionStore(session_key=key).load()["learner"]
    assert "asgi" in Learner.objects.get(key=learner).progress["completed"]
    html = site.text("/")
    item = re.search(r'<li class="toc-item is-done">\s*<a href="/lessons/asgi/"', html)
    assert item, "the completed lesson is not shown as done"


def test_pages_work_without_javascript_forms_post_and_redirect(site):
    status, _, headers = site.request(
        "POST",
        "/demos/runs/",
        form={"strategy": "no-pool", "requests": "3", "concurrency": "1", "hold_ms": "0"},
    )
    assert status == 302 and re.match(r"/runs/\d+/", headers["Location"])
    status, body, _ = site.request(
        "POST", "/demos/runs/", form={"strategy": "no-pool", "requests": "9999"}
    )
    assert status == 400 and b"requests" in body
