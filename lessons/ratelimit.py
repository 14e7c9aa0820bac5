"""Per-learner and per-address limits, so that no one can slow a room down.

Fixed one-minute windows counted in Django's cache (this process's memory by default; a
deployment with several site replicas may point CACHES at a shared cache). A learner is
counted by their learner key; a client without one by its address, and only for what
creates learners and for requests that carry no learner, because a whole room may share
one address behind a NAT.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core.cache import cache

from .boundary import TooMany

WINDOW = 60


@dataclass(frozen=True)
class Limit:
    name: str
    per_minute: int
    what: str


LIMITS = {
    limit.name: limit
    for limit in [
        # A learner polls a run 2.5 times a second and the monitor once: about 4 a second.
        Limit("request", 1200, "requests a minute from one learner"),
        Limit("action", 120, "actions (forms and API calls that change something) a minute"),
        Limit("run", 30, "runs a minute"),
        # A room of 200 joining at once behind one address stays well inside these.
        Limit("newcomer", 600, "new learners a minute from one address"),
        Limit("anonymous", 6000, "requests a minute from one address without a session"),
    ]
}


def per_minute(name: str) -> int:
    """The limit, or its override from settings.LAB["RATE_LIMITS"] (POOLING_LAB_RATE_*)."""
    from django.conf import settings

    return settings.LAB["RATE_LIMITS"].get(name) or LIMITS[name].per_minute


def hit(name: str, who: str) -> None:
    """Count one more; past the limit, a 429 saying when to come back."""
    limit = LIMITS[name]
    allowed = per_minute(name)
    now = time.time()
    window = int(now // WINDOW)
    key = f"rate:{name}:{who}:{window}"
    cache.add(key, 0, timeout=WINDOW * 2)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr: count this one as the first
        cache.set(key, 1, timeout=WINDOW * 2)
        count = 1
    if count > allowed:
        retry = int((window + 1) * WINDOW - now) + 1
        raise TooMany(
            f"too many requests: at most {allowed} {limit.what}; try again in {retry} s",
            field="rate",
            allowed=f"{allowed} {limit.what}",
            retry_after=retry,
        )
