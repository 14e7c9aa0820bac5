"""A learner's progress, kept on their `Learner` row (not in the session).

    {"visited": [slug, ...], "completed": [slug, ...], "last": slug | None,
     "answers": {slug: {checkpoint or question id: entry}}}

A checkpoint's entry is `{"guess", "at"}` once predicted, plus `{"measured", "run"}` once
its demo ran; a question's is `{"choice", "correct", "at"}`. A lesson is completed when
every checkpoint has a measured figure and every question an answer, or by hand.

Reading a lesson never makes a learner: a visit is recorded only for one who exists.
The file a learner exports (`export`) comes back through `parse_file`, which checks every
field against the lessons as they are now and names the first thing that is wrong.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from . import checkpoints, content, learners
from .models import Learner
from .params import BadInput

FORMAT = "pooling-lab-progress"
VERSION = 1
MAX_FILE_BYTES = 256 * 1024
MAX_TEXT = 80
KEYS = ("visited", "completed", "last", "answers")


def empty() -> dict[str, Any]:
    return {"visited": [], "completed": [], "last": None, "answers": {}}


def _normalised(data: Any) -> dict[str, Any]:
    base = empty()
    if isinstance(data, dict):
        base.update({k: data[k] for k in KEYS if k in data})
    return base


def of(request: HttpRequest) -> dict[str, Any]:
    learner = learners.current(request)
    return _normalised(learner.progress) if learner else empty()


def visited(request: HttpRequest) -> set[str]:
    return set(of(request)["visited"])


def completed(request: HttpRequest) -> set[str]:
    return set(of(request)["completed"])


def answer(data: dict[str, Any], slug: str, item_id: str) -> dict[str, Any] | None:
    return data["answers"].get(slug, {}).get(item_id)


@contextmanager
def _editing(learner: Learner) -> Iterator[dict[str, Any]]:
    """Change a learner's progress under a row lock: two tabs never lose each other's."""
    with transaction.atomic():
        row = Learner.objects.select_for_update().only("progress").get(pk=learner.pk)
        data = _normalised(row.progress)
        yield data
        row.progress = data
        row.save(update_fields=["progress"])
    learner.progress = data


def _visit(data: dict[str, Any], slug: str) -> None:
    if slug not in data["visited"]:
        data["visited"].append(slug)
    data["last"] = slug


def mark_visited(request: HttpRequest, slug: str) -> None:
    """Record a visit for a learner who exists; a reader who has done nothing stays nobody."""
    learner = learners.current(request)
    if learner is None:
        return
    data = _normalised(learner.progress)
    if slug in data["visited"] and data["last"] == slug:
        return  # nothing new: no write for every page view
    with _editing(learner) as data:
        _visit(data, slug)


def set_completed(request: HttpRequest, slug: str, done: bool) -> None:
    with _editing(learners.ensure(request)) as data:
        _visit(data, slug)
        data["completed"] = [s for s in data["completed"] if s != slug] + ([slug] if done else [])


def is_done(lesson: content.Lesson, data: dict[str, Any]) -> bool:
    """Every checkpoint measured against a guess and every question answered."""
    mine = data["answers"].get(lesson.slug, {})
    checks = lesson.checks
    if not checks.checkpoints and not checks.quiz:
        return False
    return all("measured" in mine.get(c.id, {}) for c in checks.checkpoints) and all(
        "choice" in mine.get(q.id, {}) for q in checks.quiz
    )


def record(request: HttpRequest, lesson: content.Lesson, item_id: str, **fields: Any) -> dict:
    """Update one answer (made by the learner, so it makes the learner). The answer that
    does the lesson's last check completes it; marking it not done stays the learner's
    choice. Returns the whole progress."""
    with _editing(learners.ensure(request)) as data:
        _visit(data, lesson.slug)
        done_before = is_done(lesson, data)
        mine = data["answers"].setdefault(lesson.slug, {})
        mine[item_id] = {**mine.get(item_id, {}), **fields}
        if not done_before and is_done(lesson, data) and lesson.slug not in data["completed"]:
            data["completed"].append(lesson.slug)
    return data


def now() -> str:
    return timezone.now().isoformat(timespec="seconds")


def reset(request: HttpRequest) -> None:
    learner = learners.current(request)
    if learner is not None:
        with _editing(learner) as data:
            data.clear()
            data.update(empty())


def replace(request: HttpRequest, data: dict[str, Any]) -> None:
    with _editing(learners.ensure(request)) as current:
        current.clear()
        current.update(data)


# --- What the API shows and what the file holds ----------------------------------------


def _shown_answer(lesson: content.Lesson | None, item_id: str, entry: dict) -> dict:
    item = checkpoints.find(lesson.checks, item_id) if lesson else None
    shown = dict(entry)
    if isinstance(item, checkpoints.Checkpoint):
        verdict = checkpoints.score(item, entry.get("guess"), entry.get("measured"))
        shown["verdict"] = verdict.word if verdict else None
    return shown


def as_api(data: dict[str, Any]) -> dict[str, Any]:
    lessons = content.by_slug()
    return {
        "visited": list(data["visited"]),
        "completed": list(data["completed"]),
        "last_lesson": data["last"],
        "answers": {
            slug: {i: _shown_answer(lessons.get(slug), i, e) for i, e in items.items()}
            for slug, items in data["answers"].items()
        },
    }


def export(data: dict[str, Any]) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "exported": now(), **as_api(data)}


def parse_file(raw: bytes) -> dict[str, Any]:
    """An exported file, checked field by field (BadInput names the first problem)."""
    if len(raw) > MAX_FILE_BYTES:
        raise BadInput("file", "the file is too big to be a progress file", "up to 256 KB")
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadInput(
            "file", "the file is not JSON", "a file exported from this page (JSON)"
        ) from None
    return validate(body)


def validate(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadInput("file", "the file must hold a JSON object", "an exported progress file")
    if body.get("format") != FORMAT:
        raise BadInput("format", "this is not a Pooling Lab progress file", FORMAT)
    if body.get("version") != VERSION:
        raise BadInput("version", f"version {body.get('version')!r} is not known", [VERSION])
    lessons = content.by_slug()
    data = empty()
    for key in ("visited", "completed"):
        data[key] = _slugs(body.get(key, []), key, lessons)
    last = body.get("last_lesson")
    if last is not None and last not in lessons:
        raise BadInput("last_lesson", f"no lesson is called {last!r}", sorted(lessons))
    data["last"] = last
    answers = body.get("answers", {})
    if not isinstance(answers, dict):
        raise BadInput("answers", "answers must be an object", "{lesson: {id: answer}}")
    for slug, items in answers.items():
        if slug not in lessons:
            raise BadInput(f"answers.{slug}", f"no lesson is called {slug!r}", sorted(lessons))
        data["answers"][slug] = _answers(lessons[slug], items)
    return data


def _slugs(value: Any, field: str, lessons: dict[str, content.Lesson]) -> list[str]:
    if not isinstance(value, list):
        raise BadInput(field, f"{field} must be a list of lesson slugs", sorted(lessons))
    for index, slug in enumerate(value):
        if slug not in lessons:
            raise BadInput(f"{field}[{index}]", f"no lesson is called {slug!r}", sorted(lessons))
    return list(dict.fromkeys(value))


def _answers(lesson: content.Lesson, items: Any) -> dict[str, Any]:
    where = f"answers.{lesson.slug}"
    if not isinstance(items, dict):
        raise BadInput(where, "a lesson's answers must be an object", "{id: answer}")
    known = [c.id for c in lesson.checks.checkpoints] + [q.id for q in lesson.checks.quiz]
    kept: dict[str, Any] = {}
    for item_id, entry in items.items():
        item = checkpoints.find(lesson.checks, item_id)
        if item is None:
            raise BadInput(f"{where}.{item_id}", f"lesson {lesson.slug} has no {item_id!r}", known)
        if not isinstance(entry, dict):
            raise BadInput(f"{where}.{item_id}", "an answer must be an object", "an object")
        if isinstance(item, checkpoints.Checkpoint):
            kept[item_id] = _checkpoint_entry(item, entry, f"{where}.{item_id}")
        else:
            kept[item_id] = _question_entry(item, entry, f"{where}.{item_id}")
    return kept


def _at(entry: dict, where: str) -> str:
    at = entry.get("at", "")
    if not isinstance(at, str) or len(at) > 40:
        raise BadInput(f"{where}.at", "at must be a date and time", "an ISO 8601 string")
    return at


def _checkpoint_entry(item: checkpoints.Checkpoint, entry: dict, where: str) -> dict:
    if "guess" not in entry:
        raise BadInput(f"{where}.guess", "a checkpoint's answer needs its guess", "a guess")
    if isinstance(entry["guess"], bool) or not isinstance(entry["guess"], int | float):
        raise BadInput(f"{where}.guess", "the guess must be a number", "a number")
    try:
        guess = checkpoints.parse_guess(item, entry["guess"])
    except BadInput as exc:
        raise BadInput(f"{where}.guess", exc.message, exc.allowed) from None
    kept: dict[str, Any] = {"guess": guess, "at": _at(entry, where)}
    if entry.get("measured") is not None:
        kept["measured"] = _measured(item, entry["measured"], f"{where}.measured")
        run = entry.get("run")
        if run is not None and (isinstance(run, bool) or not isinstance(run, int)):
            raise BadInput(f"{where}.run", "run must be a run's id", "an integer or null")
        kept["run"] = run
    return kept


def _measured(item: checkpoints.Checkpoint, value: Any, where: str) -> Any:
    if item.answer == "number":
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
        if number is None or not math.isfinite(number):
            raise BadInput(where, "the measured figure must be a number", "a number")
        return number
    texts = value if isinstance(value, list) else [value]
    if len(texts) > 20 or not all(isinstance(t, str) and len(t) <= MAX_TEXT for t in texts):
        raise BadInput(where, "the measured outcome must be short text", "a list of names")
    return list(texts) if isinstance(value, list) else value


def _question_entry(item: checkpoints.Question, entry: dict, where: str) -> dict:
    choice = entry.get("choice")
    if isinstance(choice, bool) or not isinstance(choice, int):
        raise BadInput(f"{where}.choice", "choice must be the index of a choice", "an integer")
    if not 0 <= choice < len(item.choices):
        raise BadInput(
            f"{where}.choice", f"choice {choice} does not exist", f"0 to {len(item.choices) - 1}"
        )
    # Whether it was right is worked out here, never taken from the file.
    return {"choice": choice, "correct": item.is_correct(choice), "at": _at(entry, where)}
