"""Lesson 12's guide: my own runs as the evidence for each row, nobody else's."""

from __future__ import annotations

HTMX = {"HX-Request": "true"}


def test_a_row_links_my_run_with_the_figure_that_matters(site):
    run = site.run("no-pool", requests=6)
    status, body, _ = site.request("GET", "/demos/evidence/", headers=HTMX)
    html = body.decode()
    assert status == 200
    # Six requests without pooling: six connections, each opened for its request.
    assert f'href="/runs/{run["id"]}/"' in html
    assert f"your no-pool run #{run['id']} served 6 requests with 6 connections" in html
    # A row with no run of mine says which lesson's demo supplies one.
    assert "No run of yours backs this row yet" in html
    assert "What this guide cannot know" in html and "traffic" in html


def test_another_learner_sees_none_of_my_runs(site, learner):
    run = site.run("no-pool", requests=2)
    html = learner.text("/demos/evidence/")
    assert html.lstrip().startswith("<!doctype")  # without JavaScript: a page of its own
    assert f"#{run['id']}" not in html
    assert 'data-runs-seen="0"' in html


def test_the_lesson_loads_the_guide_from_a_request_of_its_own(site):
    html = site.text("/lessons/choosing/")
    # The lesson body is the same for everyone: the guide comes from /demos/evidence/.
    assert 'hx-get="/demos/evidence/" hx-trigger="load"' in html
    assert "your no-pool run" not in html
