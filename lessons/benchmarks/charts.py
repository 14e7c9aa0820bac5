"""Horizontal bar charts as server-rendered SVG, with the number at the end of each bar.

Horizontal, with each strategy's name above its bars: a phone has width for a bar, not
for six rotated labels. The SVG keeps its proportions (a viewBox) and takes its colours
from the page's CSS, so the same chart reads in light and dark mode. A chart carries its
figures in words too (aria-label) for those who do not see the bars.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import strategies
from ..runs.present import hue

WIDTH = 200
LABEL_H = 14  # the strategy's name above its bars
BAR_H = 12
BAR_GAP = 3
ROW_GAP = 8
NUMBER_W = 46  # room kept right of the longest bar for its number

Format = Callable[[float], str]


@dataclass(frozen=True)
class Series:
    """One bar per strategy: a figure of one benchmark."""

    key: str  # the figure: req_per_s, p50_ms, ...
    label: str  # in the legend and the spoken summary
    style: str  # "solid" or "outline"


def rate(value: float) -> str:
    return f"{value:,.0f}"


def millis(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def count(value: float) -> str:
    return f"{value:.0f}"


def strategy_hue(slug: str) -> int:
    """Each strategy keeps its colour in every chart: its place in the registry."""
    order = list(strategies.STRATEGIES)
    return hue(order.index(slug)) if slug in order else 0


def bar_chart(
    rows: list[dict[str, Any]], series: list[Series], *, fmt: Format, what: str
) -> dict[str, Any]:
    """rows: [{"strategy": slug, "values": [a value per series, or None]}]."""
    values = [v for row in rows for v in row["values"] if v is not None]
    top = max(values, default=0) or 1
    span = WIDTH - NUMBER_W
    drawn, spoken, y = [], [], 0.0
    for row in rows:
        bars = []
        bar_y = y + LABEL_H
        for value, one in zip(row["values"], series, strict=True):
            width = 0 if value is None else max(1.5, value / top * span)
            bars.append(
                {
                    "y": round(bar_y, 1),
                    "width": round(width, 1),
                    "style": one.style,
                    "text": "no figure" if value is None else fmt(value),
                    "text_x": round(width + 4, 1),
                    "text_y": round(bar_y + BAR_H - 2.5, 1),
                }
            )
            bar_y += BAR_H + BAR_GAP
        drawn.append(
            {
                "label": row["strategy"],
                "label_y": round(y + LABEL_H - 4, 1),
                "hue": strategy_hue(row["strategy"]),
                "bars": bars,
            }
        )
        said = ", ".join(
            f"{one.label} {b['text']}" if len(series) > 1 else b["text"]
            for one, b in zip(series, bars, strict=True)
        )
        spoken.append(f"{row['strategy']} {said}")
        y = bar_y - BAR_GAP + ROW_GAP
    return {
        "width": WIDTH,
        "height": round(max(y - ROW_GAP + 2, 1), 1),
        "bar_h": BAR_H,
        "rows": drawn,
        "series": series,
        "label": f"{what}: " + "; ".join(spoken),
    }


# The charts of one benchmark: what each shows, and which way is better.
METRICS = [
    ("req_per_s", "Requests per second", "higher is better", rate),
    ("p50_ms", "p50 latency, ms", "lower is better", millis),
    ("p95_ms", "p95 latency, ms", "lower is better", millis),
    ("peak_server_connections", "Peak server connections", "fewer is cheaper", count),
]


def _chart(title: str, note: str, rows: list[dict], series: list[Series], fmt: Format) -> dict:
    return {"title": title, "note": note, **bar_chart(rows, series, fmt=fmt, what=title)}


def benchmark_charts(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Three charts side by side: req/s, p50 and p95 latency together, peak connections."""

    def rows(*keys: str) -> list[dict[str, Any]]:
        return [{"strategy": r["strategy"], "values": [r[k] for k in keys]} for r in results]

    latency = [Series("p50_ms", "p50", "solid"), Series("p95_ms", "p95", "outline")]
    peak = "peak_server_connections"
    return [
        _chart(
            "Requests per second",
            "higher is better",
            rows("req_per_s"),
            [Series("req_per_s", "req/s", "solid")],
            rate,
        ),
        _chart(
            "Latency, ms",
            "p50 solid, p95 outlined; lower is better",
            rows("p50_ms", "p95_ms"),
            latency,
            millis,
        ),
        _chart(
            "Peak server connections",
            "PostgreSQL connections open at once; fewer is cheaper",
            rows(peak),
            [Series(peak, "peak", "solid")],
            count,
        ),
    ]


def comparison_charts(
    first: list[dict[str, Any]], second: list[dict[str, Any]], labels: tuple[str, str]
) -> list[dict[str, Any]]:
    """Two benchmarks, metric by metric: the first solid, the second outlined."""
    pair = [Series("a", labels[0], "solid"), Series("b", labels[1], "outline")]
    a, b = ({r["strategy"]: r for r in lines} for lines in (first, second))
    slugs = list(dict.fromkeys([*a, *b]))
    return [
        _chart(
            title,
            f"{labels[0]} solid, {labels[1]} outlined; {note}",
            [
                {"strategy": s, "values": [(a.get(s) or {}).get(key), (b.get(s) or {}).get(key)]}
                for s in slugs
            ],
            pair,
            fmt,
        )
        for key, title, note, fmt in METRICS
    ]
