"""The benchmark's bare Django app (scripts/bare_django.py), served beside the lab.

It logs in as the site's own user, outside the demo roles' budget (its pool holds 2 x 4
connections, and its no-pool view one per thread): the lab's own idle demo connections
must not make it meet a role's limit. `manage.py bench` starts it, measures it in the
same interleaved rounds, and stops it.
"""

from __future__ import annotations

import json
import statistics
import sys
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings

from .bench import Target
from .services.processes import free_port, spawn, stop, wait_for

SCRIPTS = Path(settings.BASE_DIR) / "scripts"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except OSError:
        return False


@contextmanager
def served(workers: int, threads: int):
    """The bare app under gunicorn gthread `workers` x `threads`; yields its base URL."""
    db = settings.DATABASES["default"]
    keys = ("NAME", "USER", "PASSWORD", "HOST", "PORT")
    env = {"BARE_DB": json.dumps({k: db[k] for k in keys}), "PATH": "/usr/bin:/bin"}
    port = free_port()
    cmd = [
        sys.executable, "-m", "gunicorn", "bare_django:application", "--chdir", str(SCRIPTS),
        "--bind", f"127.0.0.1:{port}", "--worker-class", "gthread",
        "--workers", str(workers), "--threads", str(threads), "--no-control-socket",
    ]  # fmt: skip
    log = Path(settings.LAB_DIR) / "logs" / "bare.log"
    proc = spawn(cmd, log_path=log, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(base + "/pool/"), timeout=30, proc=proc, what="the bare app")
        yield base
    finally:
        stop(proc)


def targets(base: str) -> list[Target]:
    return [
        Target("bare Django, pool", "/pool/", "pooling-lab:bare-pool", base=base),
        Target("bare Django, no pool", "/nopool/", "pooling-lab:bare-nopool", base=base),
    ]


# Each lab target compared, and the bare app's target it is compared with.
PAIRS = {"native-pool": "bare Django, pool", "no-pool": "bare Django, no pool"}


def order(found: list[Target], index: int) -> list[Target]:
    """Round `index`'s order of the targets. The machine's speed drifts (by a quarter within
    a minute on the development machine), so the compared targets run side by side, the
    bare app first in every other round: a drift then lands on both sides alike."""
    names = {t.name: t for t in found}
    pool, no_pool = (
        [names[n] for n in pair] if all(n in names for n in pair) else [] for pair in PAIRS.items()
    )
    # native-pool, bare pool, bare no pool, no-pool: each pair side by side, all four close.
    block = pool + no_pool[::-1]
    if index % 2:
        block.reverse()
    return block + [t for t in found if t not in block]


def ratios(rows: list[dict]) -> dict[str, Any] | None:
    """What the comparison says, round by round (the two sides of a comparison ran side by
    side), then the median over the rounds: the probe against bare Django, the two ratios."""
    rate = {row["target"]: row["rounds"] for row in rows}
    rounds = [
        figures
        for figures in zip(
            rate["native-pool"],
            rate["no-pool"],
            rate["bare Django, pool"],
            rate["bare Django, no pool"],
            strict=True,
        )
        if all(figures)  # a round that served nothing compares nothing
    ]
    if not rounds:
        return None
    probe = [pool / bare_pool for pool, _, bare_pool, _ in rounds]
    lab_ratio = [pool / no_pool for pool, no_pool, _, _ in rounds]
    bare_ratio = [bare_pool / bare_no_pool for _, _, bare_pool, bare_no_pool in rounds]
    return {
        "rounds": len(rounds),
        "probe_vs_bare_pool": statistics.median(probe),
        "probe_vs_bare_pool_range": [min(probe), max(probe)],
        "lab_ratio": statistics.median(lab_ratio),
        "bare_ratio": statistics.median(bare_ratio),
        "ratio_vs_bare": statistics.median(
            a / b for a, b in zip(lab_ratio, bare_ratio, strict=True)
        ),
    }
