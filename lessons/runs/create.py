"""A run is asked for: check every field, place it in the learner's queue."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import transaction

from .. import budget, lab, strategies
from ..boundary import Conflict
from ..models import Learner, Run
from ..params import BadInput, Param
from ..probe import HOLD, WORK
from . import queue

SERVERS = ("wsgi", "asgi")
FRESH = Param("fresh", "bool", False, help="Close this configuration's connections first.")


def run_fields() -> tuple[Param, ...]:
    cfg = lab.config()
    return (
        Param("requests", "int", 10, 1, cfg["MAX_RUN_REQUESTS"], "How many requests to send."),
        Param(
            "concurrency", "int", 1, 1, cfg["MAX_RUN_CONCURRENCY"], "Requests in flight at once."
        ),
        HOLD,
        WORK,
    )


def _server(body: dict[str, Any]) -> str:
    server = body.get("server") or "wsgi"
    if server not in SERVERS:
        raise BadInput("server", f"server must be one of {', '.join(SERVERS)}", list(SERVERS))
    if not lab.server_url(server):
        raise Conflict(
            f"the {server.upper()} demo server is not running in this lab",
            field="server",
            allowed=[s for s in SERVERS if lab.server_url(s)],
        )
    return server


def _check_cost(requests: int, concurrency: int, hold_ms: int, work_ms: int) -> None:
    limit_s = lab.config()["MAX_RUN_HOLD_SECONDS"]
    busy_ms = requests * (hold_ms + work_ms) / concurrency
    if busy_ms > limit_s * 1000:
        raise BadInput(
            "requests",
            f"this run would keep the demo server busy for at least {busy_ms / 1000:.0f} s "
            f"(requests x (hold_ms + work_ms) / concurrency); the limit is {limit_s} s",
            f"requests x (hold_ms + work_ms) / concurrency <= {limit_s * 1000} ms",
        )


def config_tag(strategy: strategies.Strategy, params: dict[str, Any]) -> str:
    blob = json.dumps([strategy.slug, params], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:8]


def next_epoch(learner: Learner, tag: str, fresh: bool) -> str:
    """The generation of connections a run uses: a fresh run starts a new one."""
    learner = Learner.objects.select_for_update().get(pk=learner.pk)
    if fresh:
        learner.epochs = {**learner.epochs, tag: learner.epochs.get(tag, 0) + 1}
        learner.save(update_fields=["epochs"])
    return f"{learner.epoch}.{learner.epochs.get(tag, 0)}"


def create(body: Any, learner: Learner, origin: dict[str, str] | None = None) -> Run:
    """Validate a run request (raising a LabError naming the field) and queue it.

    `origin` names the lesson demo that started it, so the page can show it again.
    """
    if not isinstance(body, dict):
        raise BadInput("body", "the body must be a JSON object", "an object")
    strategy = strategies.get_available(strategies.from_field(body.get("strategy")).slug)
    raw_params = body.get("params", {})
    if raw_params is None:
        raw_params = {}
    if not isinstance(raw_params, dict):
        raise BadInput("params", "params must be an object", "an object of parameters")
    server = _server(body)
    params = strategy.parse(raw_params)
    budget.check_choice(strategy, params, server)
    requests, concurrency, hold_ms, work_ms = (f.parse(body.get(f.name)) for f in run_fields())
    _check_cost(requests, concurrency, hold_ms, work_ms)
    fresh = FRESH.parse(body.get("fresh"))
    with transaction.atomic():
        queue.admit(learner)
        run = Run.objects.create(
            learner=learner,
            strategy=strategy.slug,
            params=params,
            server=server,
            requests=requests,
            concurrency=concurrency,
            hold_ms=hold_ms,
            work_ms=work_ms,
            fresh=fresh,
            epoch=next_epoch(learner, config_tag(strategy, params), fresh),
            spec={"origin": origin} if origin else {},
        )
    queue.dispatch()
    return run
