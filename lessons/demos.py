"""The demos a lesson can embed by name: `{{ demo burst strategy=no-pool requests=10 }}`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import strategies
from .params import BadInput


@dataclass(frozen=True)
class Demo:
    name: str
    title: str
    keys: frozenset[str] = frozenset()
    # Any strategy parameter is accepted too, checked against the registry.
    takes_strategy_params: bool = False


DEMOS = {
    d.name: d
    for d in [
        Demo("connection-cost", "What a connection costs"),
        Demo(
            "burst",
            "Send requests",
            frozenset(
                {
                    "strategy",
                    "requests",
                    "concurrency",
                    "hold_ms",
                    "work_ms",
                    "label",
                    "server",
                    "fresh",
                    "predict",
                }
            ),
            True,
        ),
        Demo("lab", "Pooling lab", frozenset({"strategy"})),
        Demo("monitor", "Connection monitor"),
        Demo("terminate", "Kill the backends", frozenset({"strategy"})),
    ]
}


@dataclass
class Embed:
    """One demo placed in a lesson, with its options checked at load time."""

    name: str
    number: int
    options: dict[str, str]
    lesson: str = ""
    strategy: strategies.Strategy | None = None
    params: dict[str, Any] = field(default_factory=dict)
    run: dict[str, int] = field(default_factory=dict)

    @property
    def template(self) -> str:
        return f"lessons/demos.html#{self.name}"

    @property
    def anchor(self) -> str:
        return f"demo-{self.number}"


def embed(name: str, number: int, options: dict[str, str], lesson: str = "") -> Embed:
    """Build an embed, failing loudly (at load) on a demo or option that does not exist."""
    from .runs.create import FRESH, SERVERS, run_fields

    demo = DEMOS.get(name)
    if demo is None:
        raise ValueError(f"unknown demo {name!r}; known: {', '.join(DEMOS)}")
    item = Embed(name, number, options, lesson)
    if "strategy" in options:
        item.strategy = strategies.get(options["strategy"])
        param_names = (
            {p.name for p in item.strategy.params} if demo.takes_strategy_params else set()
        )
    else:
        param_names = set()
    unknown = set(options) - demo.keys - param_names
    if unknown:
        raise ValueError(f"demo {name!r} has no option {sorted(unknown)[0]!r}")
    if item.strategy is not None:
        item.params = item.strategy.parse({k: v for k, v in options.items() if k in param_names})
    try:
        item.run = {f.name: f.parse(options.get(f.name)) for f in run_fields()}
        if "fresh" in options:
            item.run["fresh"] = str(FRESH.parse(options["fresh"])).lower()
    except BadInput as exc:
        raise ValueError(f"demo {name!r}: {exc.field}: {exc.message}") from exc
    if options.get("server", "wsgi") not in SERVERS:
        raise ValueError(f"demo {name!r}: server must be one of {', '.join(SERVERS)}")
    if "server" in options:
        item.run["server"] = options["server"]
    return item
