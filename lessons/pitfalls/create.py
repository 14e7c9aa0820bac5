"""A pitfall run is asked for: check the fields, queue it like any run, wait a moment."""

from __future__ import annotations

import time
from typing import Any

from django.db import transaction

from .. import strategies
from ..boundary import Conflict
from ..models import Learner, Run
from ..params import BadInput, Param, ensure_known
from ..runs import queue
from .paths import ALL_VIAS, VIAS
from .registry import Pitfall, ordered

FIX = Param("fix", "bool", False, help="Play the pitfall with its fix.")
BOTH = "both"
FIELDS = {"via", "vias", "fix"}
# The API answers with the outcome when the run ends within this, else 202 and a URL.
WAIT_SECONDS = 5.0


def _via(value: Any, field: str = "via") -> str:
    if value not in ALL_VIAS:
        raise BadInput(field, f"{field} must be one of {', '.join(ALL_VIAS)}", list(ALL_VIAS))
    return value


def _vias(value: Any) -> list[str]:
    if value == "all":
        return list(VIAS)
    if not isinstance(value, list) or not value:
        raise BadInput("vias", 'vias must be "all" or a list of vias', list(ALL_VIAS))
    return ordered([_via(item, "vias") for item in value])


def _fixes(value: Any, allow_both: bool) -> list[bool]:
    if allow_both and (value is None or value == BOTH):
        return [False, True]
    try:
        return [FIX.parse(value)]
    except BadInput:
        allowed = "true, false or both" if allow_both else "true or false"
        raise BadInput("fix", f"fix must be {allowed}", allowed) from None


def plays(body: Any) -> tuple[list[str], list[bool]]:
    """The vias and fixes a request asks for: {via, fix} for one, {vias, fix} for several."""
    if not isinstance(body, dict):
        raise BadInput("body", "the body must be a JSON object", "an object")
    ensure_known(FIELDS, body, "a pitfall run")
    if "via" in body and "vias" in body:
        raise BadInput("vias", "give either via or vias, not both", ["via", "vias"])
    if "vias" in body:
        return _vias(body["vias"]), _fixes(body.get("fix"), allow_both=True)
    if body.get("via") is None:
        raise BadInput("via", "via is required", list(ALL_VIAS))
    return [_via(body["via"])], _fixes(body.get("fix"), allow_both=False)


def available(vias: list[str]) -> tuple[list[str], dict[str, str]]:
    """Vias this lab can play, and why each other one cannot (PgBouncer not running)."""
    missing = {via: reason for via in vias if (reason := strategies.get(via).unavailable())}
    if len(missing) == len(vias):
        reason = next(iter(missing.values()))
        raise Conflict(reason, field="via", extra={"reason": reason})
    return [via for via in vias if via not in missing], missing


def create(
    pitfall: Pitfall,
    vias: list[str],
    fixes: list[bool],
    learner: Learner,
    demo: dict[str, str] | None = None,
) -> Run:
    """Queue a pitfall run. `demo` names the lesson demo that asked (to show it again)."""
    playable, unavailable = available(vias)
    spec: dict[str, Any] = {
        "pitfall": pitfall.slug,
        "vias": playable,
        "fixes": fixes,
        "unavailable": unavailable,
    }
    if demo:
        spec["origin"] = demo  # the same key as a probe run's: the page shows it again
    with transaction.atomic():
        queue.admit(learner)
        run = Run.objects.create(
            learner=learner,
            kind=Run.Kind.PITFALL,
            spec=spec,
            requests=len(playable) * len(fixes),
        )
    queue.dispatch()
    return run


def wait(run: Run, seconds: float = WAIT_SECONDS) -> Run:
    """The run once it has finished, or as it is after `seconds`."""
    deadline = time.monotonic() + seconds
    while not run.finished_running and time.monotonic() < deadline:
        time.sleep(0.05)
        queue.tick()  # a run that finished elsewhere lets the next one start
        run.refresh_from_db()
    return run
