"""The progress file a learner takes to another browser: what comes back in is checked
field by field against the lessons, and a refusal names the field. Pure, no lab."""

from __future__ import annotations

import copy
import json

import pytest

from lessons import progress
from lessons.params import BadInput


def _data() -> dict:
    """Progress as the site keeps it: two lessons, a measured guess and two answers."""
    data = progress.empty()
    data["visited"] = ["why-pooling", "no-pooling"]
    data["completed"] = ["why-pooling"]
    data["last"] = "no-pooling"
    data["answers"] = {
        "no-pooling": {
            "no-pool-pids": {
                "guess": 8,
                "at": "2026-11-26T08:00:00+00:00",
                "measured": 10,
                "run": 3,
            },
            "q-close-old": {"choice": 1, "correct": True, "at": "2026-11-26T08:01:00+00:00"},
        },
        "pgbouncer-pitfalls": {
            "pitfall-cursor": {
                "guess": 1,
                "at": "2026-11-26T08:02:00+00:00",
                "measured": ["pgbouncer-transaction"],
                "run": None,
            }
        },
    }
    return data


def _file(**changes) -> dict:
    """The file an export writes, with some top-level fields changed."""
    return {**json.loads(json.dumps(progress.export(_data()))), **changes}


def _refused(body) -> BadInput:
    with pytest.raises(BadInput) as refused:
        progress.validate(body)
    return refused.value


def test_an_exported_file_imports_back_to_the_same_progress():
    assert progress.validate(_file()) == _data()


def test_the_file_round_trips_through_bytes():
    raw = json.dumps(progress.export(_data())).encode()
    assert progress.parse_file(raw) == _data()


def test_whether_a_quiz_answer_was_right_is_worked_out_not_read_from_the_file():
    body = _file()
    body["answers"]["no-pooling"]["q-close-old"] = {"choice": 0, "correct": True, "at": ""}
    kept = progress.validate(body)["answers"]["no-pooling"]["q-close-old"]
    assert kept["correct"] is False  # choice 0 is not the answer, whatever the file says


def test_derived_fields_of_the_export_are_not_kept():
    # The export adds a verdict beside each measured guess; an import recomputes it.
    assert "verdict" in _file()["answers"]["no-pooling"]["no-pool-pids"]
    assert "verdict" not in progress.validate(_file())["answers"]["no-pooling"]["no-pool-pids"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "file"),
        (_file(format="something-else"), "format"),
        (_file(version=2), "version"),
        (_file(visited="why-pooling"), "visited"),
        (_file(visited=["why-pooling", "no-such-lesson"]), "visited[1]"),
        (_file(completed=[3]), "completed[0]"),
        (_file(last_lesson="nope"), "last_lesson"),
        (_file(answers=[]), "answers"),
        (_file(answers={"nope": {}}), "answers.nope"),
        (_file(answers={"no-pooling": None}), "answers.no-pooling"),
    ],
)
def test_a_wrong_file_is_refused_naming_the_field(body, field):
    assert _refused(body).field == field


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"at": ""}, "answers.no-pooling.no-pool-pids.guess"),
        ({"guess": "8"}, "answers.no-pooling.no-pool-pids.guess"),
        ({"guess": True}, "answers.no-pooling.no-pool-pids.guess"),
        ({"guess": -3}, "answers.no-pooling.no-pool-pids.guess"),
        ({"guess": 8, "measured": "ten"}, "answers.no-pooling.no-pool-pids.measured"),
        ({"guess": 8, "measured": 10, "run": "3"}, "answers.no-pooling.no-pool-pids.run"),
        ({"guess": 8, "at": 12}, "answers.no-pooling.no-pool-pids.at"),
        ("8", "answers.no-pooling.no-pool-pids"),
    ],
)
def test_a_wrong_checkpoint_answer_is_refused_naming_its_field(entry, field):
    body = _file()
    body["answers"]["no-pooling"]["no-pool-pids"] = entry
    assert _refused(body).field == field


@pytest.mark.parametrize("choice", [3, -1, "1", None, True])
def test_a_quiz_choice_that_does_not_exist_is_refused(choice):
    body = _file()
    body["answers"]["no-pooling"]["q-close-old"] = {"choice": choice}
    assert _refused(body).field == "answers.no-pooling.q-close-old.choice"


def test_an_unknown_checkpoint_is_refused_with_the_lessons_own_ids():
    body = _file()
    body["answers"]["no-pooling"]["made-up"] = {"guess": 1}
    refused = _refused(body)
    assert refused.field == "answers.no-pooling.made-up"
    assert "no-pool-pids" in refused.allowed and "q-close-old" in refused.allowed


def test_a_choice_checkpoint_guess_must_index_a_choice():
    body = _file()
    body["answers"]["pgbouncer-pitfalls"]["pitfall-cursor"]["guess"] = 9
    assert _refused(body).field == "answers.pgbouncer-pitfalls.pitfall-cursor.guess"
    body = _file()
    body["answers"]["pgbouncer-pitfalls"]["pitfall-cursor"]["measured"] = [1, 2]
    assert _refused(body).field == "answers.pgbouncer-pitfalls.pitfall-cursor.measured"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json", "the file is not JSON"),
        (b"\xff\xfe", "the file is not JSON"),
        (b" " * (progress.MAX_FILE_BYTES + 1), "the file is too big to be a progress file"),
    ],
)
def test_a_file_that_is_not_a_progress_file_at_all_is_refused(raw, message):
    with pytest.raises(BadInput) as refused:
        progress.parse_file(raw)
    assert (refused.value.field, refused.value.message) == ("file", message)


def test_validation_never_changes_the_file_it_reads():
    body = _file()
    before = copy.deepcopy(body)
    progress.validate(body)
    assert body == before
