"""The demos a lesson can embed by name: `{{ demo burst strategy=no-pool requests=10 }}`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import runs, strategies
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
            frozenset({"strategy", "requests", "concurrency", "hold_ms", "label"}),
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
    strategy: strategies.Strategy | None = None
    params: dict[str, Any] = field(default_factory=dict)
    run: dict[str, int] = field(default_factory=dict)

    @property
    def template(self) -> str:
        return f"lessons/demos.html#{self.name}"

    @property
    def anchor(self) -> str:
        return f"demo-{self.number}"


def embed(name: str, number: int, options: dict[str, str]) -> Embed:
    """Build an embed, failing loudly (at load) on a demo or option that does not exist."""
    demo = DEMOS.get(name)
    if demo is None:
        raise ValueError(f"unknown demo {name!r}; known: {', '.join(DEMOS)}")
    item = Embed(name, number, options)
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
    run_raw = {k: options[k] for k in ("requests", "concurrency", "hold_ms") if k in options}
    try:
        item.run = {f.name: f.parse(run_raw.get(f.name)) for f in runs.run_fields()}
    except BadInput as exc:
        raise ValueError(f"demo {name!r}: {exc}") from exc
    return item
