"""A run worker executes a benchmark: rounds of load on the WSGI demo server.

The load comes from `manage.py bench`'s engine (lessons.bench): wrk when it is installed,
else the lab's Python client, with the server connections counted by sampling
pg_stat_activity for the learner's own application_name. Rounds are interleaved (every
strategy once a round), so a busy moment of the machine lands on all of them. Each round
runs its strategy alone: the learner's other connections on the demo server are closed
first, then a few uncounted requests open the strategy's again before the clock starts.
"""

from __future__ import annotations

import logging
import math
import subprocess
from typing import Any
from urllib.parse import urlencode

from .. import bench, lab, strategies
from ..models import Run
from ..runs.execute import Progress, RunStopped, demo_server_answers, finish
from . import figures

log = logging.getLogger(__name__)

# Uncounted requests before the first round, in units of the concurrency (each round has
# its own: lessons.bench.run_round).
FIRST_WARM_UP = 6
# The Python client's most requests a second (a cap; its rounds stop on time).
PYTHON_CAP_PER_S = 3000


def target(spec: dict[str, Any], owner: str) -> bench.Target:
    """A strategy as the engine measures it: the learner's own connections for it."""
    strategy = strategies.get(spec["strategy"])
    query = urlencode({"owner": owner, "epoch": spec["epoch"]})
    return bench.Target(
        strategy.slug,
        f"/probe/{strategy.slug}/?{query}",
        strategy.application_name_for(owner),
        owner=owner,
    )


def _ms(value: float) -> float | None:
    return round(value, 2) if math.isfinite(value) else None  # no answer in the round


def measure_round(
    base: str, found: bench.Target, number: int, spec: dict[str, Any], use_wrk: bool
) -> dict[str, Any]:
    """One strategy's round: its figures, or why it has none."""
    concurrency, seconds = spec["concurrency"], spec["round_seconds"]
    errors = found.errors
    step: dict[str, Any] = {"strategy": found.name, "round": number}
    try:
        bench.run_round(
            base,
            found,
            requests=PYTHON_CAP_PER_S * seconds,
            seconds=seconds,
            concurrency=concurrency,
            use_wrk=use_wrk,
            timed=True,
            workers=lab.wsgi_workers(),
        )
    except (OSError, subprocess.SubprocessError, StopIteration, ValueError) as exc:
        log.warning("benchmark round of %s failed", found.name, exc_info=True)
        return {**step, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {
        **step,
        "req_per_s": round(found.rates[-1], 1),
        "p50_ms": _ms(found.p50s[-1]),
        "p95_ms": _ms(found.p95s[-1]),
        "peak_server_connections": found.peak,
        "errors": found.errors - errors,
    }


def execute(run: Run) -> None:
    """The executor of runs of kind `benchmark` (lessons.runs.execute.EXECUTORS)."""
    base = lab.server_url("wsgi")
    if not base or not demo_server_answers(base):
        raise RunStopped(f"The WSGI demo server at {base} is not answering.")
    spec = run.spec
    use_wrk = bench.wrk_available()
    found = [target(t, run.learner.tag) for t in spec["targets"]]
    about = {
        "client": "wrk" if use_wrk else "python",
        "server": {"workers": lab.wsgi_workers(), "threads": lab.wsgi_threads()},
    }
    Run.objects.filter(pk=run.pk).update(summary=about)
    with Progress(run) as progress:
        for each in found:
            if not progress.cancel.is_set():
                concurrency = spec["concurrency"]
                bench.warm_up(base, each.path, FIRST_WARM_UP * concurrency, concurrency)
        index = 0
        for number in range(1, spec["rounds"] + 1):
            for each in found:
                if progress.cancel.is_set():
                    break
                progress.add(index, measure_round(base, each, number, spec, use_wrk))
                index += 1
    steps = progress.collected()
    summary = {**about, "results": figures.aggregate(steps, [t.name for t in found])}
    finish(run, progress, steps, summary)
