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


@dataclass
class Checks:
    checkpoints: list[Checkpoint] = field(default_factory=list)
    quiz: list[Question] = field(default_factory=list)


def _id(item: dict[str, Any], where: str) -> str:
    value = str(item.get("id", ""))
    if not ID.match(value):
        raise ValueError(f"{where}: id {value!r} must be lower-case letters, digits and '-'")
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
