"""Every transaction-pooling pitfall of lesson 7, played for real through the run queue.

Each pitfall runs on the four connection paths of the lesson (no pool, Django's pool,
PgBouncer in session mode and in transaction mode), as written and with its fix, three
times: the outcome must be the same every time, and the one the lesson tells.
"""

from __future__ import annotations

import re
import time

import psycopg
import pytest

from .conftest import database_url
from .learning_support import predict
from .support import Http, require

VIAS = ["no-pool", "native-pool", "pgbouncer-session", "pgbouncer-transaction"]
# What breaks as written (lesson 7's "What you should see"); with the fix nothing does.
BROKE = {
    "server-side-cursor": ["pgbouncer-transaction"],
    "session-set": ["native-pool", "pgbouncer-transaction"],
    "prepared-statements": ["pgbouncer-transaction"],
    "advisory-lock": ["pgbouncer-transaction"],
    "listen": ["pgbouncer-transaction"],
    "startup-options": ["pgbouncer-session", "pgbouncer-transaction"],
}
# The error a broken path reports, where the pitfall fails with one.
ERRORS = {
    "server-side-cursor": ("InvalidCursorName", r'cursor "_django_curs_\w+" does not exist'),
    # The number counts the client's prepared statements: 0 or 1 depending on the server.
    "prepared-statements": ("InvalidSqlStatementName", r'prepared statement "_pg3_\d+" does not'),
    "startup-options": ("OperationalError", r"unsupported startup parameter: options"),
}
REPEAT = 3


@pytest.fixture
def bouncer_lab(lab):
    require(lab.bouncer is not None, "pgbouncer is not installed: the lab runs without it")
    return lab


def play_all(site: Http, slug: str) -> dict:
    """One run of every via, as written and with the fix; the API waits for it."""
    status, run = site.post_json(f"/api/pitfalls/{slug}", {"vias": "all", "fix": "both"})
    if status == 202:  # still queued behind another learner's run: follow it
        run = site.wait(run["url"], timeout=120)
        status = 200
    assert status == 200, run
    assert run["status"] == "done", run.get("error")
    return run


@pytest.mark.parametrize("slug", sorted(BROKE))
def test_each_pitfall_breaks_the_paths_the_lesson_says_every_time(site, bouncer_lab, slug):
    for _ in range(REPEAT):
        run = play_all(site, slug)
        outcomes = {(o["via"], o["fix"]): o for o in run["results"]}
        # Four vias, each as written and with the fix.
        assert sorted(outcomes) == sorted((via, fix) for via in VIAS for fix in (False, True))
        broke = [via for via in VIAS if outcomes[via, False]["broke"]]
        assert broke == BROKE[slug], [outcomes[via, False]["observed"] for via in VIAS]
        assert run["pitfall"]["broke_vias"] == BROKE[slug]
        # The fix works on every path.
        assert run["pitfall"]["fixed_broke_vias"] == []
        assert not any(outcomes[via, True]["broke"] for via in VIAS)
        for (via, fix), outcome in outcomes.items():
            assert outcome["pitfall"] == slug and outcome["observed"]
            if outcome["broke"] and slug in ERRORS:
                kind, message = ERRORS[slug]
                assert outcome["error"]["kind"] == kind
                assert re.search(message, outcome["error"]["message"]), outcome["error"]
            elif not outcome["broke"]:
                assert outcome["error"] is None, (via, fix, outcome)


def test_one_via_answers_with_its_outcome(site, bouncer_lab):
    status, body = site.post_json(
        "/api/pitfalls/session-set", {"via": "pgbouncer-transaction", "fix": False}
    )
    assert status == 200, body
    assert {"pitfall", "via", "fix", "broke", "observed", "error"} <= set(body)
    assert body["pitfall"] == "session-set" and body["via"] == "pgbouncer-transaction"
    assert body["fix"] is False and body["broke"] is True and body["error"] is None
    # One server in the pool: the next client read the first one's setting on it.
    assert "read statement_timeout = 4321ms on the same backend" in body["observed"]


def test_session_state_leaks_through_persistent_connections_and_dbcp_too(site, bouncer_lab):
    """FACTS: no reset between borrowers, whatever keeps the connection."""
    for fix in (False, True):
        status, run = site.post_json(
            "/api/pitfalls/session-set", {"vias": ["persistent", "dbcp"], "fix": fix}
        )
        assert status == 200, run
        assert [o["broke"] for o in run["results"]] == [not fix, not fix]


def test_the_lesson_demo_works_without_javascript(site, bouncer_lab):
    page = site.text("/lessons/pgbouncer-pitfalls/")
    assert 'action="/demos/pitfalls/listen/"' in page
    status, _, headers = site.request(
        "POST",
        "/demos/pitfalls/listen/",
        form={"lesson": "pgbouncer-pitfalls", "demo": "demo-5"},
    )
    assert status == 302
    html = wait_for(site, headers["Location"], 'data-status="done"')
    # A row per path, each saying broke or fine as written and with the fix.
    cells = re.findall(r'data-via="([a-z-]+)" data-fix="(true|false)" data-state="(\w+)"', html)
    expected = {(via, "false"): "fine" for via in VIAS} | {(via, "true"): "fine" for via in VIAS}
    expected["pgbouncer-transaction", "false"] = "broke"
    assert {(via, fix): state for via, fix, state in cells} == expected
    assert len(cells) == 8


def test_the_lesson_demo_polls_with_htmx_until_done(site, bouncer_lab):
    # This demo answers a checkpoint: without a guess it does not run.
    form = {"lesson": "pgbouncer-pitfalls", "demo": "demo-6"}
    refused = site.request(
        "POST", "/demos/pitfalls/startup-options/", form=form, headers={"HX-Request": "true"}
    )
    assert refused[0] == 409 and b"lock in your prediction first" in refused[1]
    assert predict(site, "pgbouncer-pitfalls", "pitfall-options", 0)[0] == 200
    status, body, _ = site.request(
        "POST",
        "/demos/pitfalls/startup-options/",
        form={"lesson": "pgbouncer-pitfalls", "demo": "demo-6"},
        headers={"HX-Request": "true"},
    )
    assert status == 201
    fragment = body.decode()
    run_id = re.search(r'data-run-id="(\d+)"', fragment)[1]
    if 'data-status="done"' not in fragment:
        assert f'hx-get="/demos/pitfalls/runs/{run_id}/"' in fragment
    html = wait_for(site, f"/demos/pitfalls/runs/{run_id}/", 'data-status="done"', htmx=True)
    assert "hx-trigger" not in html  # finished: it stops polling
    assert 'data-broke-vias="pgbouncer-session, pgbouncer-transaction"' in html
    _, run = site.get_json(f"/api/pitfalls/runs/{run_id}")
    assert run["pitfall"]["broke_vias"] == ["pgbouncer-session", "pgbouncer-transaction"]


def wait_for(site: Http, path: str, marker: str, htmx: bool = False) -> str:
    headers = {"HX-Request": "true"} if htmx else None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, body, _ = site.request("GET", path, headers=headers)
        assert status == 200, body
        if marker in body.decode():
            return body.decode()
        time.sleep(0.2)
    raise AssertionError(f"{path} never showed {marker}")


def test_no_connection_is_left_open_afterwards(site, bouncer_lab):
    for slug in BROKE:
        play_all(site, slug)
    _, runs = site.get_json("/api/runs")
    with psycopg.connect(database_url(), autocommit=True) as conn:
        key = conn.execute(
            "SELECT l.key FROM lessons_run r JOIN lessons_learner l ON l.id = r.learner_id "
            "WHERE r.id = %s",
            [runs[0]["id"]],
        ).fetchone()[0]
        pattern = f"pooling-lab:%:{key[:8]}"
        # PgBouncer closes the servers it was told to replace as soon as they are free.
        deadline = time.monotonic() + 10
        while True:
            left = conn.execute(
                "SELECT pid, application_name, state FROM pg_stat_activity "
                "WHERE application_name LIKE %s",
                [pattern],
            ).fetchall()
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert left == []


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/api/pitfalls/no-such-pitfall", {"via": "no-pool"}, 404, "pitfall"),
        ("/api/pitfalls/listen", {"via": "pgbouncer-statement"}, 400, "via"),
        ("/api/pitfalls/listen", {}, 400, "via"),
        ("/api/pitfalls/listen", {"via": "no-pool", "fix": "maybe"}, 400, "fix"),
        ("/api/pitfalls/listen", {"via": "no-pool", "fixed": True}, 400, "fixed"),
        ("/api/pitfalls/listen", {"vias": []}, 400, "vias"),
        ("/api/pitfalls/listen", {"vias": ["no-pool", "nope"]}, 400, "vias"),
        ("/api/pitfalls/listen", {"via": "no-pool", "vias": "all"}, 400, "vias"),
        ("/api/pitfalls/listen", [1, 2], 400, "body"),
    ],
)
def test_bad_input_is_refused_naming_the_field(site, path, body, status, field):
    got, answer = site.post_json(path, body)
    assert got == status, answer
    assert answer["field"] == field and answer["error"]


def test_pitfalls_are_listed(site):
    status, body = site.get_json("/api/pitfalls")
    assert status == 200
    assert [p["slug"] for p in body] == list(BROKE)
    assert all(p["lesson"] == "pgbouncer-pitfalls" and p["fix"] for p in body)
    status, answer = site.get_json("/api/pitfalls/listen")
    assert status == 405 and answer["field"] == "method"


def test_a_pitfall_queued_behind_another_pgbouncer_run_answers_202_then_its_outcome(
    site, learner, bouncer_lab
):
    """The queue runs one PgBouncer run at a time: another learner's 10 s burst through
    PgBouncer (40 requests x 500 ms, 2 at a time) keeps the pitfall waiting past the
    API's 5 s."""
    burst = learner.start("pgbouncer-transaction", {"pool_size": 2}, 40, 2, 500)
    status, body = site.post_json("/api/pitfalls/listen", {"via": "no-pool"})
    assert status == 202, body
    assert set(body) == {"id", "url", "status", "queue_position"}
    assert body["status"] == "queued" and body["queue_position"] >= 1
    run = site.wait(body["url"], timeout=60)
    assert run["status"] == "done"
    assert run["results"][0]["via"] == "no-pool" and run["results"][0]["broke"] is False
    assert learner.wait(burst["url"])["status"] == "done"


def test_without_pgbouncer_the_other_paths_still_play(monkeypatch, settings):
    from lessons.boundary import Conflict
    from lessons.pitfalls import create

    monkeypatch.setitem(settings.LAB, "PGBOUNCER", None)
    playable, missing = create.available(VIAS)
    assert playable == ["no-pool", "native-pool"]
    assert set(missing) == {"pgbouncer-session", "pgbouncer-transaction"}
    assert all("apt-get install pgbouncer" in reason for reason in missing.values())
    with pytest.raises(Conflict):
        create.available(["pgbouncer-transaction"])


def test_the_lesson_checkpoints_offer_what_the_demos_measure():
    """Each predicted pitfall demo's checkpoint has, among its choices, the text of the
    vias the demo breaks (BROKE, which the live test above measures)."""
    from lessons import content

    lesson = content.by_slug()["pgbouncer-pitfalls"]
    checkpoints = {c.id: c for c in lesson.checks.checkpoints}
    predicted = [e for e in lesson.embeds if e.name == "pitfall" and "predict" in e.options]
    assert len(predicted) == 3  # server-side-cursor, session-set, startup-options
    for embed in predicted:
        checkpoint = checkpoints[embed.options["predict"]]
        assert checkpoint.measure == "pitfall.broke_vias"
        assert ", ".join(BROKE[embed.options["pitfall"]]) in checkpoint.choices
    assert {e.options["pitfall"] for e in lesson.embeds if e.name == "pitfall"} == set(BROKE)
