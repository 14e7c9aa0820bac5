"""Checkpoint scoring, pure: reading a figure out of a demo's result and holding a guess
against it. No lab needed; the lessons themselves supply real checkpoints."""

from __future__ import annotations

import pytest

from lessons import checkpoints, content
from lessons.checkpoints import Checkpoint, measured_value, parse_guess, score
from lessons.content import Lesson
from lessons.params import BadInput
from lessons.views import see_boxes

PIDS = Checkpoint("pids", "How many PIDs?", "number", "summary.distinct_backend_pids", "...")
TIMEOUTS = Checkpoint("t", "?", "number", "summary.errors_by_kind.pool-timeout", "...")
VIAS = Checkpoint(
    "vias",
    "Which break?",
    "choice",
    "pitfall.broke_vias",
    "...",
    (
        "none",
        "pgbouncer-transaction",
        "pgbouncer-session, pgbouncer-transaction",
        "native-pool, pgbouncer-transaction",
    ),
)


def test_a_dotted_path_reads_the_figure_out_of_a_run():
    run = {"summary": {"distinct_backend_pids": 10, "errors_by_kind": {}}}
    assert measured_value(PIDS, run) == 10


def test_a_count_that_never_happened_reads_as_zero_not_unknown():
    # summarise() lists only the error kinds that occurred: no key means none occurred.
    assert measured_value(TIMEOUTS, {"summary": {"errors_by_kind": {}}}) == 0
    assert measured_value(TIMEOUTS, {"summary": {"errors_by_kind": {"pool-timeout": 3}}}) == 3


def test_a_result_without_the_path_has_no_figure():
    assert measured_value(PIDS, {"status": "failed"}) is None
    assert measured_value(TIMEOUTS, {"summary": None}) is None
    assert measured_value(PIDS, {"summary": {"distinct_backend_pids": True}}) is None


def test_a_measured_list_of_vias_matches_its_choice_in_any_order():
    assert checkpoints.choice_of(VIAS, ["pgbouncer-transaction", "native-pool"]) == 3
    assert checkpoints.choice_of(VIAS, []) == 0  # "none" is the empty list
    assert checkpoints.choice_of(VIAS, ["no-pool"]) is None
    assert measured_value(VIAS, {"pitfall": {"broke_vias": ["pgbouncer-transaction"]}}) == [
        "pgbouncer-transaction"
    ]


@pytest.mark.parametrize(
    ("guess", "measured", "word"),
    [
        (10, 10, "exact"),
        (9, 10, "close"),  # within 1
        (35, 40, "close"),  # within a quarter
        (4, 40, "off"),
        (0, 0, "exact"),
        (1, 0, "close"),
        (3, 0, "off"),
        (30, 52.9, "off"),
        (40, 52.9, "close"),  # 12.9 away, inside a quarter of 52.9
    ],
)
def test_a_number_guess_is_exact_close_or_off(guess, measured, word):
    assert score(PIDS, guess, measured).word == word


def test_an_off_guess_says_by_how_much_and_on_which_side():
    assert score(PIDS, 4, 40).words == "Off by 36: your guess was below what was measured."
    assert score(PIDS, 60, 40).words.startswith("Off by 20: your guess was above")


def test_a_choice_guess_is_right_only_when_it_names_what_broke():
    assert score(VIAS, 1, ["pgbouncer-transaction"]).word == "exact"
    wrong = score(VIAS, 0, ["pgbouncer-transaction"])
    assert wrong.word == "off" and "pgbouncer-transaction" in wrong.words
    assert score(VIAS, 1, ["something-else"]).word == "off"


def test_there_is_no_verdict_before_a_figure():
    assert score(PIDS, 10, None) is None


@pytest.mark.parametrize("raw", ["", "ten", "-1", "1000001", "nan", "inf"])
def test_a_number_guess_outside_the_range_is_refused_naming_the_field(raw):
    with pytest.raises(BadInput) as refused:
        parse_guess(PIDS, raw)
    assert refused.value.field == "guess"


def test_a_number_guess_keeps_integers_and_two_decimals():
    assert parse_guess(PIDS, "10") == 10 and isinstance(parse_guess(PIDS, "10.0"), int)
    assert parse_guess(PIDS, "41.257") == 41.26


@pytest.mark.parametrize("raw", ["-1", "4", "x", ""])
def test_a_choice_guess_must_be_one_of_the_choices(raw):
    with pytest.raises(BadInput):
        parse_guess(VIAS, raw)


def test_every_checkpoint_of_every_lesson_is_predicted_by_exactly_one_demo():
    for lesson in content.all_lessons():
        for checkpoint in lesson.checks.checkpoints:
            demos = [e for e in lesson.embeds if e.options.get("predict") == checkpoint.id]
            assert len(demos) == 1, (lesson.slug, checkpoint.id)


def test_the_lessons_api_shape_never_holds_a_quiz_answer():
    for lesson in content.all_lessons():
        described = lesson.checks.describe()
        assert 2 <= len(described["quiz"]) <= 4, lesson.slug
        for question in described["quiz"]:
            assert set(question) == {"id", "ask", "choices", "hint"}


def _lesson(embeds: list[tuple[str, str]]) -> Lesson:
    from lessons.demos import Embed

    lesson = Lesson("x", "X", 1, 1, "", [], [])
    lesson.blocks = [Embed(name, int(anchor[5:]), {}) for name, anchor in embeds]
    return lesson


SEE = '<div class="admonition see">\n<p class="admonition-title">What you should see</p>\n'


def test_a_see_box_after_a_demo_closes_until_that_demo_has_run():
    html = (
        f'{SEE}<p>before any demo</p></div><section class="demo" id="demo-1">'
        f'<div class="demo-out"></div></section>{SEE}<p>outcome</p>'
        '<div class="highlight"><pre>code</pre></div></div><p>after</p>'
    )
    out = see_boxes.collapse(html, _lesson([("burst", "demo-1")]))
    assert out.startswith(SEE)  # before any demo: left open
    assert '<details class="admonition see" data-demo="demo-1">' in out
    # The nested code block stays inside the box; the text after it stays after it.
    assert out.endswith("<pre>code</pre></div></details><p>after</p>")


def test_a_see_box_after_the_monitor_stays_open():
    html = f'<section class="demo" id="demo-2"></section>{SEE}<p>watch</p></div>'
    assert "<details" not in see_boxes.collapse(html, _lesson([("monitor", "demo-2")]))
