"""A run worker plays a pitfall run: each via, without and with the fix, one at a time.

One play at a time keeps the run inside the two demo connections the queue counts for
it (`PITFALL_CONNECTIONS`), and keeps the plays from meeting on PgBouncer's servers.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from ..boundary import LabError
from ..models import Run
from ..runs.execute import Progress, RunStopped
from . import registry
from .cycle import DATABASE_ERRORS, Stalled, database_error, describe
from .paths import open_path

Outcome = dict[str, Any]


def play_one(pitfall: registry.Pitfall, via: str, fix: bool, owner: str = "") -> Outcome:
    """Play one pitfall on one via, for real: {pitfall, via, fix, broke, observed, error}."""
    with open_path(via, pitfall.pgbouncer_pool(via), pitfall.tweak, fix, owner) as path:
        seen = pitfall.play(path, fix)
    return {
        "pitfall": pitfall.slug,
        "via": via,
        "fix": fix,
        "broke": seen.broke,
        "observed": seen.observed,
        "error": seen.error,
        "setup": path.setup,
    }


def _stopped(via: str, exc: BaseException) -> RunStopped:
    """Why a play could not run at all (PgBouncer down, a client stalled): for the learner."""
    if isinstance(exc, Stalled):
        return RunStopped(f"The {via} play stalled: {exc}.")
    error = database_error(exc)
    detail = describe(error)["message"] if error else str(exc)
    return RunStopped(f"The {via} play could not run: {detail}")


def summarise(
    pitfall: registry.Pitfall, outcomes: list[Outcome], fixes: list[bool]
) -> dict[str, Any]:
    """The vias that broke, as written and with the fix (None for a side not played)."""

    def broke(fix: bool) -> list[str] | None:
        if fix not in fixes:
            return None
        return registry.ordered([o["via"] for o in outcomes if o["fix"] is fix and o["broke"]])

    return {
        "pitfall": pitfall.slug,
        "plays": len(outcomes),
        "broke_vias": broke(False),
        "fixed_broke_vias": broke(True),
    }


def execute(run: Run) -> None:
    """The executor of `pitfall` runs (lessons.runs.execute.EXECUTORS)."""
    pitfall = registry.get(run.spec["pitfall"])
    owner = run.learner.tag if run.learner_id else ""
    plays = [(via, fix) for via in run.spec["vias"] for fix in run.spec["fixes"]]
    with Progress(run) as progress:
        for index, (via, fix) in enumerate(plays):
            if progress.cancel.is_set():
                break
            try:
                progress.add(index, play_one(pitfall, via, fix, owner))
            except (*DATABASE_ERRORS, Stalled, LabError) as exc:
                raise _stopped(via, exc) from exc
        progress.flush()
    outcomes = progress.collected()
    cancelled = progress.cancel.is_set() and len(outcomes) < len(plays)
    Run.objects.filter(pk=run.pk).update(
        status=Run.Status.CANCELLED if cancelled else Run.Status.DONE,
        done=len(outcomes),
        results=outcomes,
        summary=summarise(pitfall, outcomes, run.spec["fixes"]),
        finished=timezone.now(),
    )
