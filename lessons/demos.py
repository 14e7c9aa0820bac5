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
    # Any field of the sizing calculator (lesson 10's deployments).
    takes_sizing_fields: bool = False
    # The partial that renders it, when not in lessons/demos.html.
    template: str = ""


RUN_KEYS = frozenset(
    {"strategy", "requests", "concurrency", "hold_ms", "work_ms", "label", "server", "fresh"}
)
PREDICT = frozenset({"predict"})

DEMOS = {
    d.name: d
    for d in [
        Demo("connection-cost", "What a connection costs", PREDICT),
        Demo("burst", "Send requests", RUN_KEYS | PREDICT, takes_strategy_params=True),
        Demo("lab", "Pooling lab", frozenset({"strategy"}) | PREDICT),
        Demo("monitor", "Connection monitor"),
        Demo("terminate", "Kill the backends", frozenset({"strategy"})),
        Demo(
            "pitfall",
            "A transaction-pooling pitfall, run for real",
            frozenset({"pitfall"}) | PREDICT,
            template="lessons/pitfalls.html#demo",
        ),
        Demo("pgbouncer", "PgBouncer's pools, clients and servers"),
        Demo("restart-postgres", "Restart PostgreSQL", template="lessons/faults.html#restart"),
        Demo("stop-pgbouncer", "Stop PgBouncer", template="lessons/faults.html#stop-pgbouncer"),
        Demo(
            "sizing",
            "Sizing calculator",
            PREDICT,
            takes_sizing_fields=True,
            template="lessons/sizing.html#demo",
        ),
        Demo("benchmark", "Benchmark every strategy", template="lessons/benchmarks.html#demo"),
        Demo("evidence", "Your runs as evidence", template="lessons/evidence.html#demo"),
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
        return DEMOS[self.name].template or f"lessons/demos.html#{self.name}"

    @property
    def title(self) -> str:
        return DEMOS[self.name].title

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
    if demo.takes_sizing_fields:
        from . import sizing

        param_names |= set(sizing.known_fields())
    unknown = set(options) - demo.keys - param_names
    if unknown:
        raise ValueError(f"demo {name!r} has no option {sorted(unknown)[0]!r}")
    if name == "pitfall":
        from .pitfalls import registry

        if options.get("pitfall") not in registry.PITFALLS:
            raise ValueError(f"demo 'pitfall': no pitfall {options.get('pitfall')!r}")
    if item.strategy is not None and demo.takes_strategy_params:
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
