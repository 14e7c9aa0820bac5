"""Lesson 12's decision guide, each row backed by the learner's own runs.

The rows are the lesson's decision table. For each, the guide finds the learner's runs that
show the row's point (a burst's PIDs, a pool that timed out, a pitfall that broke, the
benchmark's figures) and says it in one line with a link; a row with none says which
lesson's demo would supply one. What the lab cannot see, the learner's traffic above all,
is listed as such: it decides between the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from . import content
from .benchmarks import present as bench_present
from .models import Learner, Run

PER_ROW = 3
LOOKED_AT = 200


@dataclass(frozen=True)
class Row:
    situation: str
    start_with: str
    strategies: tuple[str, ...]  # runs of these back the row
    supply: str  # the lesson whose demos supply evidence for it
    depends_on: str  # what the lab cannot know that decides this row
    server: str | None = None  # only runs on this demo server back it
    pitfalls: bool = False  # pitfall runs back it too
    benchmark: bool = True  # the benchmark's figures bear on it
    note: str = ""


ROWS = (
    Row(
        "Low traffic, or a script or command that runs and exits",
        "No pooling (CONN_MAX_AGE = 0)",
        ("no-pool",),
        "no-pooling",
        "how many requests a second you serve, and what a connection costs on your network",
    ),
    Row(
        "WSGI, a few instances, plenty of max_connections",
        "Persistent connections with CONN_HEALTH_CHECKS",
        ("persistent",),
        "persistent-connections",
        "instances x workers x threads against your max_connections (lesson 10)",
        server="wsgi",
    ),
    Row(
        "WSGI on Django 5.1+, where you want a cap and a wait line",
        "Django's native pool, max_size = threads per worker",
        ("native-pool",),
        "native-pool",
        "how long your requests hold a connection, and how many run at once at your peak",
        server="wsgi",
    ),
    Row(
        "ASGI (uvicorn, Daphne)",
        "Native pool sized to the concurrent requests that touched the database, CONN_MAX_AGE = 0",
        ("persistent", "native-pool"),
        "asgi",
        "how many requests are in flight at your peaks",
        server="asgi",
    ),
    Row(
        "gevent or eventlet workers",
        "A pool or PgBouncer, CONN_MAX_AGE = 0",
        ("persistent",),
        "asgi",
        "how many greenlets touch the database at once",
        server="asgi",
        note="The lab has no gevent server; the ASGI pile-up is the same mechanism.",
    ),
    Row(
        "Already on django-db-connection-pool",
        "Keep it, with POOL_SIZE = threads per worker",
        ("dbcp",),
        "django-db-connection-pool",
        "whether your code catches SQLAlchemy's QueuePool timeout, which Django does not wrap",
    ),
    Row(
        "Many instances, autoscaling, or several services sharing one database",
        "PgBouncer in transaction mode, plus a direct or session-mode alias for what needs "
        "a session",
        ("pgbouncer-transaction",),
        "pgbouncer-modes",
        "how many instances run at once, deploys and scale-ups included",
        pitfalls=True,
    ),
    Row(
        "Code that relies on session features",
        "Connections that end with the request: no pooling, or session-mode PgBouncer with "
        "CONN_MAX_AGE = 0",
        ("pgbouncer-session", "no-pool"),
        "pgbouncer-pitfalls",
        "which session features your code uses: SET, LISTEN, temporary tables, advisory locks",
        pitfalls=True,
        benchmark=False,
    ),
)

UNKNOWNS = (
    "Your traffic's shape: how it peaks, and how many requests are in flight at the peak.",
    "How long your requests hold a connection: the lab's probe holds one for hold_ms; yours "
    "hold it from their first query to their end.",
    "How many instances of your app run at once, during deploys and scale-ups too.",
    "Which session features your code relies on.",
    "What a connection costs on your network: the lab connects over loopback with trust "
    "authentication; TLS and SCRAM across a network cost more.",
)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def run_line(run: Run) -> str:
    """What one burst or lab run shows, in the learner's words."""
    s = run.summary or {}
    where = " on ASGI" if run.server == "asgi" else ""
    if run.server == "asgi":
        held = f"with up to {_plural(s.get('peak_server_connections') or 0, 'connection')} open"
    else:
        held = f"with {_plural(s.get('distinct_backend_pids') or 0, 'connection')}"
    text = f"your {run.strategy} run #{run.pk}{where} served {s.get('ok', 0)} requests {held}"
    if s.get("errors"):
        kinds = ", ".join(f"{k} x {n}" for k, n in (s.get("errors_by_kind") or {}).items())
        text += f"; {s['errors']} failed ({kinds})"
    if s.get("p50_ms") is not None:
        text += f"; p50 {s['p50_ms']} ms"
    return text


def pitfall_line(run: Run) -> str:
    spec, s = run.spec or {}, run.summary or {}
    fix = " with the fix" if spec.get("fix") else ""
    outcome = "broke" if s.get("broke") else "worked"
    what = f"{spec.get('pitfall', '?')} via {spec.get('via', '?')}{fix}"
    return f"your pitfall run #{run.pk}: {what} {outcome}"


def benchmark_line(run: Run, slugs: tuple[str, ...]) -> str | None:
    lines = {r["strategy"]: r for r in bench_present.results(run)}
    parts = [
        f"{slug} {lines[slug]['req_per_s']:,.0f} req/s at up to "
        f"{_plural(lines[slug]['peak_server_connections'] or 0, 'connection')}"
        for slug in (*slugs, "no-pool")
        if slug in lines and lines[slug]["req_per_s"]
    ]
    unique = list(dict.fromkeys(parts))
    return f"your benchmark #{run.pk}: " + "; ".join(unique) if unique else None


def _matches(row: Row, run: Run) -> bool:
    if run.kind == Run.Kind.PITFALL:
        return row.pitfalls and (run.spec or {}).get("via") in (*row.strategies, None)
    return run.strategy in row.strategies and (row.server is None or run.server == row.server)


def _evidence(row: Row, runs: list[Run], benchmark: Run | None) -> list[dict[str, str]]:
    found = []
    for run in runs:
        if len(found) >= PER_ROW:
            break
        if run.kind == Run.Kind.RUN and _matches(row, run):
            found.append({"url": reverse("run", args=[run.pk]), "text": run_line(run)})
        elif run.kind == Run.Kind.PITFALL and _matches(row, run):
            url = reverse("lesson", args=["pgbouncer-pitfalls"])
            found.append({"url": url, "text": pitfall_line(run)})
    if benchmark is not None and row.benchmark and row.server != "asgi":
        text = benchmark_line(benchmark, row.strategies)
        if text:
            found.append({"url": reverse("benchmark", args=[benchmark.pk]), "text": text})
    return found


def guide(learner: Learner | None) -> dict[str, Any]:
    """The guide's rows with this learner's evidence, and what it cannot know."""
    runs: list[Run] = []
    benchmark = None
    if learner is not None:
        done = Run.objects.filter(learner=learner, status=Run.Status.DONE)
        runs = list(done.exclude(kind=Run.Kind.BENCHMARK)[:LOOKED_AT])
        benchmark = done.filter(kind=Run.Kind.BENCHMARK).first()
    lessons = content.by_slug()
    rows = []
    for row in ROWS:
        lesson = lessons.get(row.supply)
        rows.append(
            {
                "row": row,
                "evidence": _evidence(row, runs, benchmark),
                "supply_url": reverse("lesson", args=[row.supply]) if lesson else None,
                "supply_title": f"lesson {lesson.order}, {lesson.title}" if lesson else "",
            }
        )
    return {
        "rows": rows,
        "unknowns": UNKNOWNS,
        "runs_seen": len(runs),
        "benchmark": benchmark.pk if benchmark else None,
    }
