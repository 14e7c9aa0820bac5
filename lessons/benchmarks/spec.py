"""A benchmark is asked for: check every field, place it in the learner's queue.

Bounded like every run: a few seconds of load per strategy, at a concurrency the demo
server can take, so that one learner's benchmark never holds the lab for long.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from .. import budget, lab, strategies
from ..boundary import Conflict
from ..models import Learner, Run
from ..params import BadInput, Param
from ..runs import create as runs_create
from ..runs import queue

FIELDS = ("strategies", "seconds", "concurrency")
# Rounds last a second: wrk takes whole seconds, and more rounds interleave better.
ROUND_SECONDS = 1
SECONDS = Param(
    "seconds", "int", 3, 1, 10, "Seconds of measured load per strategy, in 1-second rounds."
)


def concurrency_field() -> Param:
    return Param(
        "concurrency",
        "int",
        8,
        1,
        min(32, lab.config()["MAX_RUN_CONCURRENCY"]),
        "Requests in flight at once (the lab's demo server runs workers x threads at once).",
    )


def available() -> list[strategies.Strategy]:
    return [s for s in strategies.STRATEGIES.values() if s.unavailable() is None]


def _strategies(raw: Any) -> list[strategies.Strategy]:
    """The strategies asked for (a list, or comma-separated), in the registry's order."""
    if raw in (None, "", []):
        return available()
    names = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise BadInput("strategies", "strategies must be a list of strategy slugs", "a list")
    known = sorted(strategies.STRATEGIES)
    wanted = {n.strip() for n in names if n.strip()}
    unknown = sorted(wanted - set(known))
    if unknown:
        raise BadInput("strategies", f"there is no strategy {unknown[0]!r}", known)
    chosen = [s for s in strategies.STRATEGIES.values() if s.slug in wanted]
    for strategy in chosen:
        strategies.get_available(strategy.slug)  # 409 with the reason it cannot run here
    if not chosen:
        raise BadInput("strategies", "name at least one strategy", known)
    return chosen


def _targets(learner: Learner, chosen: list[strategies.Strategy]) -> list[dict[str, Any]]:
    """Each strategy with its default parameters and the learner's connections for it."""
    targets = []
    for strategy in chosen:
        params = strategy.parse({})
        budget.check_choice(strategy, params, "wsgi")
        tag = runs_create.config_tag(strategy, params)
        epoch = runs_create.next_epoch(learner, tag, fresh=False)
        targets.append({"strategy": strategy.slug, "params": params, "epoch": epoch})
    return targets


def create(body: Any, learner: Learner) -> Run:
    """Validate a benchmark request (a LabError naming the field) and queue it."""
    if not isinstance(body, dict):
        raise BadInput("body", "the body must be a JSON object", "an object")
    if not body.get("params"):
        body = {k: v for k, v in body.items() if k != "params"}  # a plain form's empty extra
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise BadInput(unknown[0], f"a benchmark has no field {unknown[0]!r}", list(FIELDS))
    chosen = _strategies(body.get("strategies"))
    seconds = SECONDS.parse(body.get("seconds"))
    concurrency = concurrency_field().parse(body.get("concurrency"))
    if not lab.server_url("wsgi"):
        raise Conflict("the lab's WSGI demo server is not running", field="server")
    rounds = seconds // ROUND_SECONDS
    with transaction.atomic():
        queue.admit(learner)
        targets = _targets(learner, chosen)
        run = Run.objects.create(
            kind=Run.Kind.BENCHMARK,
            learner=learner,
            server="wsgi",
            requests=rounds * len(targets),  # progress counts rounds of one strategy
            concurrency=concurrency,
            spec={
                "targets": targets,
                "seconds": seconds,
                "rounds": rounds,
                "round_seconds": ROUND_SECONDS,
                "concurrency": concurrency,
            },
        )
    queue.dispatch()
    return run
