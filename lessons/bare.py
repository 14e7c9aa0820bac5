"""The benchmark's bare Django app (scripts/bare_django.py), served beside the lab.

It logs in as the site's own user, outside the demo roles' budget (its pool holds 2 x 4
connections, and its no-pool view one per thread): the lab's own idle demo connections
must not make it meet a role's limit. `manage.py bench` starts it, measures it in the
same interleaved rounds, and stops it.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from contextlib import contextmanager
from pathlib import Path

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
        Target("bare Django, pool", "/pool/", "pooling-lab:bare", base=base),
        Target("bare Django, no pool", "/nopool/", "pooling-lab:bare", base=base),
    ]


def ratios(rows: list[dict]) -> dict[str, float]:
    """What the comparison says: the probe against bare Django, and the two ratios."""
    rate = {row["target"]: row["req_per_s"] for row in rows}
    lab_ratio = rate["native-pool"] / rate["no-pool"]
    bare_ratio = rate["bare Django, pool"] / rate["bare Django, no pool"]
    return {
        "probe_vs_bare_pool": rate["native-pool"] / rate["bare Django, pool"],
        "lab_ratio": lab_ratio,
        "bare_ratio": bare_ratio,
        "ratio_vs_bare": lab_ratio / bare_ratio,
    }
