"""`manage.py bench`: req/s, p50, p95 and peak connections per strategy, on loopback."""

from __future__ import annotations

import json
import urllib.request

from django.core.management.base import BaseCommand, CommandError

from lessons import bench


class Command(BaseCommand):
    help = "Benchmark every available strategy against the running lab's demo server."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--site", default="http://127.0.0.1:8000", help="The running lab's site (for /api/lab)."
        )
        parser.add_argument("--requests", type=int, default=400, help="Requests per round (400).")
        parser.add_argument("--concurrency", type=int, default=8, help="In flight at once (8).")
        parser.add_argument("--rounds", type=int, default=5, help="Interleaved rounds (5).")
        parser.add_argument("--json", action="store_true", help="Print JSON instead of a table.")

    def handle(self, *args, **options) -> None:
        if not (
            1 <= options["requests"] <= 5000
            and 1 <= options["concurrency"] <= 64
            and 1 <= options["rounds"] <= 20
        ):
            raise CommandError("requests 1-5000, concurrency 1-64, rounds 1-20")
        lab = self._lab(options["site"])
        base = lab["wsgi"]["url"]
        if not base.startswith(("http://127.", "http://localhost", "http://[::1]")):
            raise CommandError(f"the benchmark only targets loopback servers, not {base}")
        found = bench.targets()
        self.stdout.write(
            f"Demo server {base}: {lab['wsgi']['workers']} workers x "
            f"{lab['wsgi']['threads']} threads; {options['rounds']} rounds of "
            f"{options['requests']} requests at concurrency {options['concurrency']}"
        )
        for target in found:  # warm-up: pools open, imports done, not measured
            bench.run_round(base, target, 50, options["concurrency"])
            target.rates.clear(), target.times.clear()
            target.errors = target.peak = 0
        for _ in range(options["rounds"]):
            for target in found:
                bench.run_round(base, target, options["requests"], options["concurrency"])
        rows = bench.report(found)
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        self.stdout.write(
            f"{'target':<26}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'peak conn':>11}{'errors':>8}"
        )
        for row in rows:
            self.stdout.write(
                f"{row['target']:<26}{row['req_per_s']:>9}{row['p50_ms']:>9}"
                f"{row['p95_ms']:>9}{row['peak_server_connections']:>11}"
                f"{row['errors']:>8}"
            )
        by_name = {row["target"]: row["req_per_s"] for row in rows}
        if {"native-pool", "no-pool"} <= set(by_name):
            self.stdout.write(
                f"native-pool / no-pool: {by_name['native-pool'] / by_name['no-pool']:.2f}x"
            )
        bare = by_name.get("bare view (native pool)")
        if bare and "native-pool" in by_name:
            self.stdout.write(f"native-pool probe / bare view: {by_name['native-pool'] / bare:.0%}")

    def _lab(self, site: str) -> dict:
        try:
            with urllib.request.urlopen(site.rstrip("/") + "/api/lab", timeout=10) as response:
                return json.load(response)
        except OSError as exc:
            raise CommandError(
                f"no lab at {site}: start it with `uv run manage.py tutorial` ({exc})"
            ) from exc
