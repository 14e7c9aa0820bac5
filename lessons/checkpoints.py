"""A lesson's checkpoints (predict, then run) and quiz, read from its front matter."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

ID = re.compile(r"^[a-z0-9-]+$")
ANSWERS = ("number", "choice")


@dataclass(frozen=True)
class Checkpoint:
    id: str
    ask: str
    answer: str  # "number" or "choice"
    measure: str  # a dotted path into the demo's result, e.g. summary.distinct_backend_pids
    explain: str
    choices: tuple[str, ...] = ()
    # What the lesson's text claims the demo shows: a figure, [least, most], or a choice.
    # The whole journey test holds every demo to it.
    expect: Any = None

    def claims(self, value: Any) -> bool:
        """Whether a measured figure is what the lesson says it will be."""
        expect = self.expect
        if expect is None:
            return True
        if isinstance(value, list | tuple):
            value = ", ".join(value) if value else "none"
        if isinstance(expect, list):
            return isinstance(value, int | float) and expect[0] <= value <= expect[1]
        return value == expect

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ask": self.ask,
            "answer": self.answer,
            "choices": list(self.choices),
            "measure": self.measure,
            "explain": self.explain,
        }


@dataclass(frozen=True)
class Question:
    id: str
    ask: str
    choices: tuple[str, ...]
    correct: int
    hint: str
    explain: str

    def describe(self) -> dict[str, Any]:
        # The answer stays on the server: the API gives it only with a learner's answer.
        return {"id": self.id, "ask": self.ask, "choices": list(self.choices), "hint": self.hint}

    def is_correct(self, choice: int) -> bool:
        return choice == self.correct


@dataclass
class Checks:
    checkpoints: list[Checkpoint] = field(default_factory=list)
    quiz: list[Question] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {
            "checkpoints": [c.describe() for c in self.checkpoints],
            "quiz": [q.describe() for q in self.quiz],
        }


def _id(item: dict[str, Any], where: str) -> str:
    value = str(item.get("id", ""))
    if not ID.match(value):
        raise ValueError(f"{where}: id {value!r} must be lower-case letters, digits and '-'")
    return value


def _expect(value: Any, answer: str, where: str) -> Any:
    if value is None:
        return None
    ok = (
        isinstance(value, str)
        if answer == "choice"
        else isinstance(value, int | float)
        or (isinstance(value, list) and len(value) == 2 and value[0] <= value[1])
    )
    if not ok:
        raise ValueError(f"{where}: expect must be a figure, [least, most], or a choice")
    return value


def parse(meta: dict[str, Any], slug: str) -> Checks:
    """Read and check the front matter; a mistake fails the lesson's loading, loudly."""
    checks = Checks()
    for item in meta.get("checkpoints", []) or []:
        where = f"lesson {slug}, checkpoint {item.get('id')!r}"
        answer = str(item.get("answer", ""))
        if answer not in ANSWERS:
            raise ValueError(f"{where}: answer must be one of {ANSWERS}")
        choices = tuple(str(c) for c in item.get("choices", []) or [])
        if answer == "choice" and len(choices) < 2:
            raise ValueError(f"{where}: a choice needs at least two choices")
        checks.checkpoints.append(
            Checkpoint(
                _id(item, where),
                str(item["ask"]),
                answer,
                str(item["measure"]),
                str(item["explain"]),
                choices,
                _expect(item.get("expect"), answer, where),
            )
        )
    for item in meta.get("quiz", []) or []:
        where = f"lesson {slug}, question {item.get('id')!r}"
        choices = tuple(str(c) for c in item.get("choices", []))
        correct = int(item["correct"])
        if not 0 <= correct < len(choices):
            raise ValueError(f"{where}: correct must index one of its {len(choices)} choices")
        checks.quiz.append(
            Question(
                _id(item, where),
                str(item["ask"]),
                choices,
                correct,
                str(item["hint"]),
                str(item["explain"]),
            )
        )
    ids = [c.id for c in checks.checkpoints] + [q.id for q in checks.quiz]
    if len(ids) != len(set(ids)):
        raise ValueError(f"lesson {slug}: checkpoint and question ids must be unique")
    return checks


# --- Scoring: the measured figure beside the learner's guess ---------------------------

# What `resolve` finds: nothing on the path, or an object without the last key.
MISSING = object()
ABSENT_KEY = object()
GUESS_MAX = 1_000_000
# A guess within this share of the measured figure (or within 1) counts as close.
CLOSE_SHARE = 0.25


@dataclass(frozen=True)
class Verdict:
    """How a guess compares with what was measured, in a word and in a sentence."""

    word: str  # "exact", "close" or "off"
    words: str


def resolve(data: Any, path: str) -> Any:
    """The value at a dotted path (`summary.errors_by_kind.pool-timeout`).

    A count that never happened is absent from its object rather than 0 (a run without a
    pool timeout has no `pool-timeout` key): a path that ends at a missing key of an
    object gives ABSENT_KEY, any other dead end MISSING.
    """
    parts = path.split(".")
    for index, part in enumerate(parts):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, dict) and index == len(parts) - 1:
            return ABSENT_KEY
        else:
            return MISSING
    return data


def measured_value(checkpoint: Checkpoint, data: Any) -> Any:
    """The checkpoint's figure in a demo's result, or None when the result lacks it."""
    value = resolve(data, checkpoint.measure)
    if value is ABSENT_KEY:
        # A counter that is absent counted nothing; a list that is absent is unknown.
        return 0 if checkpoint.answer == "number" else None
    if value is MISSING or value is None:
        return None
    if checkpoint.answer == "number":
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return str(value)


def choice_of(checkpoint: Checkpoint, measured: Any) -> int | None:
    """Which of a choice checkpoint's choices the measured outcome is.

    A measured list (the vias that broke) matches the choice that lists the same names,
    in any order; "none" is the empty list.
    """
    if measured is None:
        return None
    for index, choice in enumerate(checkpoint.choices):
        if isinstance(measured, list):
            names = {c.strip() for c in choice.split(",")} - {"none", ""}
            if names == set(measured):
                return index
        elif choice == measured:
            return index
    return None


def parse_guess(checkpoint: Checkpoint, raw: Any) -> int | float:
    """A guess as sent by a form or a file: a number, or the index of a choice."""
    from .params import BadInput

    if checkpoint.answer == "choice":
        allowed = f"0 to {len(checkpoint.choices) - 1} (the index of a choice)"
        try:
            index = int(str(raw).strip())
        except ValueError:
            raise BadInput("guess", "pick one of the choices", allowed) from None
        if not 0 <= index < len(checkpoint.choices):
            raise BadInput("guess", f"choice {index} does not exist", allowed)
        return index
    allowed = f"a number from 0 to {GUESS_MAX}"
    try:
        number = float(str(raw).strip())
    except ValueError:
        raise BadInput("guess", "type a number", allowed) from None
    if not 0 <= number <= GUESS_MAX:  # also refuses nan and inf
        raise BadInput("guess", f"{raw} is out of range", allowed)
    return int(number) if number.is_integer() else round(number, 2)


def _number_words(guess: float, measured: float) -> Verdict:
    gap = abs(guess - measured)
    if gap < 1e-9:
        return Verdict("exact", "Spot on: exactly what was measured.")
    if gap <= max(1.0, CLOSE_SHARE * abs(measured)):
        return Verdict("close", f"Close: {_figure(gap)} away from what was measured.")
    side = "above" if guess > measured else "below"
    return Verdict("off", f"Off by {_figure(gap)}: your guess was {side} what was measured.")


def _figure(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}".rstrip("0")


def score(checkpoint: Checkpoint, guess: Any, measured: Any) -> Verdict | None:
    """Compare a guess with the measured figure; None until there is a figure."""
    if measured is None or guess is None:
        return None
    if checkpoint.answer == "number":
        return _number_words(float(guess), float(measured))
    index = choice_of(checkpoint, measured)
    if index is None:
        return Verdict("off", "What was measured is none of the choices: read it below.")
    if index == guess:
        return Verdict("exact", "Right: that is what happened.")
    return Verdict("off", f"Not this time: it was “{checkpoint.choices[index]}”.")


def shown(checkpoint: Checkpoint, value: Any) -> str:
    """A guess or a measured figure as the page prints it."""
    if value is None:
        return "\u2013"  # an en dash: no figure yet
    if checkpoint.answer == "choice":
        if isinstance(value, int):
            return checkpoint.choices[value]
        index = choice_of(checkpoint, value)
        if index is not None:
            return checkpoint.choices[index]
        return ", ".join(value) if isinstance(value, list) else str(value)
    return _figure(value)


def find(checks: Checks, item_id: str) -> Checkpoint | Question | None:
    for item in [*checks.checkpoints, *checks.quiz]:
        if item.id == item_id:
            return item
    return None
