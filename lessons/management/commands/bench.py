"""`manage.py bench`: req/s, p50, p95 and peak connections per strategy, on loopback."""

from __future__ import annotations

import json
import secrets
import urllib.request
from contextlib import ExitStack

from django.core.management.base import BaseCommand, CommandError

from lessons import bare, bench


class Command(BaseCommand):
    help = "Benchmark every available strategy against the running lab's demo server."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--site", default="http://127.0.0.1:8000", help="The running lab's site, for /api/lab."
        )
        parser.add_argument("--concurrency", type=int, default=8, help="In flight at once (8).")
        parser.add_argument("--rounds", type=int, default=5, help="Interleaved rounds (5).")
        parser.add_argument(
            "--seconds", type=float, default=3, help="Seconds per target per round with wrk (3)."
        )
        parser.add_argument(
            "--requests",
            type=int,
            default=400,
            help="Requests per target per round with the Python client (400).",
        )
        parser.add_argument(
            "--python-client",
            action="store_true",
            help="Use the lab's Python client even when wrk is installed.",
        )
        parser.add_argument("--json", action="store_true", help="Print JSON instead of a table.")
        parser.add_argument(
            "--no-bare",
            action="store_true",
            help="Leave out the bare Django app (scripts/bare_django.py) it compares with.",
        )

    def handle(self, *args, **options) -> None:
        self._check_bounds(options)
        lab = self._lab(options["site"])
        base = lab["wsgi"]["url"]
        if not base.startswith(("http://127.", "http://localhost", "http://[::1]")):
            raise CommandError(f"the benchmark only targets loopback servers, not {base}")
        use_wrk = bench.wrk_available() and not options["python_client"]
        load = dict(
            requests=options["requests"],
            seconds=options["seconds"],
            concurrency=options["concurrency"],
            use_wrk=use_wrk,
        )
        self.stdout.write(
            f"Demo server {base}: {lab['wsgi']['workers']} workers x {lab['wsgi']['threads']} "
            f"threads; {options['rounds']} interleaved rounds at concurrency "
            f"{options['concurrency']}; client: "
            + (
                f"wrk, {options['seconds']:g} s a round"
                if use_wrk
                else f"Python, {options['requests']} requests a round (install wrk for less "
                "client load)"
            )
        )
        workers, threads = lab["wsgi"]["workers"], lab["wsgi"]["threads"]
        # The benchmark's own connections on the demo server, apart from any learner's.
        owner = secrets.token_hex(4)
        load["workers"] = workers
        with ExitStack() as stack:
            stack.callback(bench.release, base, owner, workers)
            found = bench.targets(owner)
            if not options["no_bare"]:
                found += bare.targets(stack.enter_context(bare.served(workers, threads)))
            rows = self._measure(base, found, load, options["rounds"])
        self._print(rows, options["json"])

    def _measure(self, base: str, found: list, load: dict, rounds: int) -> list[dict]:
        for target in found:  # warm-up: imports done, caches filled; not counted
            bench.run_round(base, target, **{**load, "requests": 50, "seconds": 1})
            target.reset()
        for index in range(rounds):
            for target in bare.order(found, index):
                bench.run_round(base, target, **load)
        return bench.report(found)

    def _print(self, rows: list[dict], as_json: bool) -> None:
        names = {r["target"] for r in rows}
        compared = bare.ratios(rows) if names >= {*bare.PAIRS, *bare.PAIRS.values()} else None
        if as_json:
            self.stdout.write(json.dumps({"targets": rows, "comparison": compared}, indent=2))
            return
        self.stdout.write(
            f"{'target':<26}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
            f"{'peak conn':>11}{'errors':>8}  req/s by round"
        )
        for r in rows:
            self.stdout.write(
                f"{r['target']:<26}{r['req_per_s']:>9}{r['p50_ms']:>9}"
                f"{r['p95_ms']:>9}{r['peak_server_connections']:>11}"
                f"{r['errors']:>8}  {r['rounds']}"
            )
        rate = {r["target"]: r["req_per_s"] for r in rows}
        for pool, no_pool in [("native-pool", "no-pool"), tuple(bare.PAIRS.values())]:
            if {pool, no_pool} <= set(rate):
                self.stdout.write(f"{pool} / {no_pool}: {rate[pool] / rate[no_pool]:.2f}x")
        if compared:
            low, high = compared["probe_vs_bare_pool_range"]
            self.stdout.write(
                f"Round by round (each comparison side by side), median of {compared['rounds']}:\n"
                f"  native-pool probe / bare Django pool: {compared['probe_vs_bare_pool']:.0%}"
                f" (rounds {low:.0%} to {high:.0%})\n"
                f"  lab's ratio / bare Django's ratio: {compared['ratio_vs_bare']:.0%}"
                f" ({compared['lab_ratio']:.2f}x / {compared['bare_ratio']:.2f}x)"
            )

    def _check_bounds(self, options: dict) -> None:
        bounds = {
            "concurrency": (1, 64),
            "rounds": (1, 20),
            "seconds": (0.5, 30),
            "requests": (1, 5000),
        }
        for name, (low, high) in bounds.items():
            if not low <= options[name] <= high:
                raise CommandError(f"--{name} must be from {low:g} to {high:g}")

    def _lab(self, site: str) -> dict:
        try:
            with urllib.request.urlopen(site.rstrip("/") + "/api/lab", timeout=10) as response:
                return json.load(response)
        except OSError as exc:
            raise CommandError(
                f"no lab at {site}: start it with `uv run manage.py tutorial` ({exc})"
            ) from exc
