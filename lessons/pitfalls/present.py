"""A pitfall run as the API gives it and as the lesson's demo shows it.

The run's JSON carries a `pitfall` block whose `broke_vias` (the vias that broke without
the fix, in the lesson's order) is what lesson 7's checkpoints measure; written out, it
reads like the checkpoints' choices: `", ".join(broke_vias) or "none"`.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from .. import strategies
from ..models import Run
from ..runs import present
from . import registry


def _outcomes(run: Run) -> list[dict[str, Any]]:
    return [r for r in run.results if r is not None]


def block(run: Run) -> dict[str, Any]:
    pitfall = registry.get(run.spec["pitfall"])
    # Written when the run is done: until then nothing is measured.
    summary = run.summary or {"broke_vias": None, "fixed_broke_vias": None}
    return {
        **pitfall.describe(),
        "vias": run.spec["vias"],
        "fixes": run.spec["fixes"],
        "unavailable": run.spec.get("unavailable", {}),
        "broke_vias": summary["broke_vias"],
        "fixed_broke_vias": summary["fixed_broke_vias"],
        # As the checkpoints' choices read: "native-pool, pgbouncer-transaction", or "none".
        "broke": None
        if summary["broke_vias"] is None
        else ", ".join(summary["broke_vias"]) or "none",
    }


def url(run: Run) -> str:
    return reverse("api-pitfall-run", args=[run.pk])


def as_json(run: Run) -> dict[str, Any]:
    return {**present.as_json(run), "url": url(run), "pitfall": block(run)}


def pending(run: Run) -> dict[str, Any]:
    """What the API answers (202) while the run waits or runs."""
    return {
        "id": run.pk,
        "url": url(run),
        "status": run.status,
        "queue_position": (run.position or 0) if run.status == Run.Status.QUEUED else None,
    }


def _cell(
    via: str, fix: bool, outcome: dict[str, Any] | None, unavailable: str | None
) -> dict[str, Any]:
    if unavailable:
        return {"via": via, "fix": fix, "state": "unavailable", "reason": unavailable}
    if outcome is None:
        return {"via": via, "fix": fix, "state": "waiting"}
    return {**outcome, "state": "broke" if outcome["broke"] else "fine"}


def view_model(run: Run) -> dict[str, Any]:
    """The grid the demo shows: a row per via, the outcome as written and with the fix."""
    data = as_json(run)
    info = data["pitfall"]
    vias = registry.ordered(info["vias"] + list(info["unavailable"]))
    found = {(o["via"], o["fix"]): o for o in _outcomes(run)}
    setups = {o["via"]: o.get("setup") for o in found.values()}
    columns = [
        {"fix": fix, "label": "With the fix" if fix else "As written"} for fix in info["fixes"]
    ]
    rows = [
        {
            "via": via,
            "title": strategies.get(via).title,
            "setup": setups.get(via),
            "cells": [
                _cell(via, fix, found.get((via, fix)), info["unavailable"].get(via))
                for fix in info["fixes"]
            ],
        }
        for via in vias
    ]
    return {
        **data,
        "finished": run.finished_running,
        "columns": columns,
        "rows": rows,
        "percent": int(100 * run.done / run.requests) if run.requests else 100,
        "lesson_url": reverse("lesson", args=[info["lesson"]]),
    }
