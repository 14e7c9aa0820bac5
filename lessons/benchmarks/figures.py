"""A benchmark's figures: each strategy's rounds folded into one line, and what they say.

The median of the rounds, as `manage.py bench` reports: one slow round (another learner's
burst, a pool reopened) does not move it. The peak is the most connections seen in any
round.
"""

from __future__ import annotations

import statistics
from typing import Any

from .. import strategies

# The figure every other strategy is set against: Django's default.
BASELINE = "no-pool"


def _median(values: list[float | None], digits: int) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), digits) if present else None


def aggregate(steps: list[dict[str, Any]], order: list[str]) -> list[dict[str, Any]]:
    """One line per strategy, in `order`, from the rounds measured so far."""
    rounds: dict[str, list[dict[str, Any]]] = {slug: [] for slug in order}
    for step in steps:
        if step is not None:
            rounds.setdefault(step["strategy"], []).append(step)
    lines = []
    for slug, mine in rounds.items():
        measured = [s for s in mine if "error" not in s]
        peaks = [s["peak_server_connections"] for s in measured]
        lines.append(
            {
                "strategy": slug,
                "req_per_s": _median([s["req_per_s"] for s in measured], 1),
                "p50_ms": _median([s["p50_ms"] for s in measured], 2),
                "p95_ms": _median([s["p95_ms"] for s in measured], 2),
                "peak_server_connections": max(peaks) if peaks else None,
                "errors": sum(s["errors"] for s in measured),
                "rounds": [round(s["req_per_s"]) for s in measured],
                "failed_rounds": [s["error"] for s in mine if "error" in s],
            }
        )
    return lines


def _title(slug: str) -> str:
    strategy = strategies.STRATEGIES.get(slug)
    return strategy.title if strategy else slug


def fastest(results: list[dict[str, Any]]) -> tuple[dict, dict] | None:
    """The fastest strategy and Django's default, when both were measured."""
    rated = [r for r in results if r["req_per_s"]]
    base = next((r for r in rated if r["strategy"] == BASELINE), None)
    if base is None or len(rated) < 2:
        return None
    return max(rated, key=lambda r: r["req_per_s"]), base


def short(results: list[dict[str, Any]]) -> str | None:
    """ "native-pool: 4.8x no-pool", for a line in a list."""
    found = fastest(results)
    if found is None:
        return None
    best, base = found
    return f"{best['strategy']}: {best['req_per_s'] / base['req_per_s']:.1f}x {BASELINE}"


def headline(results: list[dict[str, Any]]) -> str | None:
    """The benchmark in one sentence: the fastest strategy against Django's default."""
    found = fastest(results)
    if found is None:
        return None
    best, base = found
    if best is base:
        return (
            "No strategy beat no pooling this time: the machine was probably busy with other "
            "work. Run the benchmark again."
        )
    ratio = best["req_per_s"] / base["req_per_s"]
    text = (
        f"{_title(best['strategy'])} served {ratio:.1f}x the requests per second of no pooling "
        f"({best['req_per_s']:,.0f} against {base['req_per_s']:,.0f})"
    )
    if best["peak_server_connections"] is not None:
        text += (
            f", on {best['peak_server_connections']} reused server connections where no "
            f"pooling opened a new one for every request ({base['peak_server_connections']} "
            "open at once)"
        )
    return text + "."
