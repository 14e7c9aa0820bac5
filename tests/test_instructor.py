"""The instructor's room view: behind the lab's token; pause and reset act on the room."""

from __future__ import annotations

import time

from django.conf import settings

from .support import Http


def instructor(lab) -> Http:
    client = Http(lab.url)
    status, _, _ = client.request(
        "POST", "/instructor/login/", form={"token": settings.LAB["INSTRUCTOR_TOKEN"]}
    )
    assert status == 302
    return client


def test_the_room_is_the_instructors_only(site, lab):
    assert site.request("GET", "/instructor/")[0] == 403
    status, body = site.get_json("/api/room")
    assert status == 403 and body["field"] == "instructor"
    assert site.request("POST", "/instructor/login/", form={"token": "guess"})[0] == 403
    assert instructor(lab).request("GET", "/instructor/")[0] == 200


def test_the_room_counts_learners_progress_and_runs(site, lab):
    site.run("no-pool", requests=3)
    site.request("POST", "/lessons/no-pooling/complete/", form={"done": "true"})
    status, room = instructor(lab).get_json("/api/room")
    assert status == 200
    assert room["learners"]["active"] >= 1
    lesson = next(row for row in room["lessons"] if row["slug"] == "no-pooling")
    assert lesson["completed"] >= 1
    html = instructor(lab).text("/instructor/?projector=1")
    assert 'class="instructor projector"' in html


def test_paused_runs_are_refused_until_opened_again(site, lab):
    teacher = instructor(lab)
    teacher.request("POST", "/instructor/pause/", form={"paused": "true"})
    try:
        status, body = site.post_json("/api/runs", {"strategy": "no-pool", "requests": 2})
        assert status == 409 and "paused" in body["error"]
    finally:
        teacher.request("POST", "/instructor/pause/", form={"paused": "false"})
    status, _ = site.post_json("/api/runs", {"strategy": "no-pool", "requests": 2})
    assert status == 201


def test_resetting_the_room_cancels_runs_and_closes_connections(site, lab):
    site.run("persistent", {"conn_max_age": 600}, requests=8, concurrency=4)
    teacher = instructor(lab)
    assert teacher.request("POST", "/instructor/reset/", form={"confirm": "no"})[0] == 400
    assert teacher.request("POST", "/instructor/reset/", form={"confirm": "reset"})[0] == 302
    _, mine = site.get_json("/api/connections?scope=mine")
    # The monitor samples once a second; the persistent backends are gone by then.
    deadline = time.monotonic() + 5
    while mine["rows"] and time.monotonic() < deadline:
        time.sleep(0.3)
        _, mine = site.get_json("/api/connections?scope=mine")
    assert mine["rows"] == []
