"""`manage.py tutorial`: start everything the lessons need and serve the site."""

from __future__ import annotations

import os
import signal
import time

import psycopg
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connections

from lessons.services.launcher import Lab, LabStartError
from lessons.services.postgres import PostgresStartError


class StopRequested(BaseException):
    """Ctrl-C or SIGTERM: leave whatever the lab is doing and stop its children.

    A BaseException, like KeyboardInterrupt: an `except Exception` that happens to be
    running when the signal lands must not swallow it (the handler ignores any later
    signal, so a swallowed stop would leave the lab running for good)."""


def _stop_requested(signum, frame) -> None:
    # No locks here (a handler that takes one can deadlock the main thread that holds
    # it): ignore further signals so that the stop itself finishes, and unwind.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    raise StopRequested


class Command(BaseCommand):
    help = "Start PostgreSQL (embedded unless DATABASE_URL is set), the demo server and the site."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=8000, help="The site's port (8000).")
        parser.add_argument(
            "--demo-port",
            type=int,
            default=None,
            help="The WSGI demo server's port (the site's port + 1).",
        )
        parser.add_argument(
            "--asgi-port",
            type=int,
            default=None,
            help="The ASGI demo server's port (the site's port + 2).",
        )
        parser.add_argument(
            "--pgbouncer-port",
            type=int,
            default=None,
            help="The managed PgBouncer's port (the site's port + 3).",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=settings.LAB["WSGI_WORKERS"],
            help="Demo server worker processes (2).",
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=settings.LAB["WSGI_THREADS"],
            help="Threads per demo worker (4).",
        )
        parser.add_argument(
            "--host",
            default="127.0.0.1",
            help="Address the site listens on (127.0.0.1). For a workshop, 0.0.0.0 and "
            "ALLOWED_HOSTS set to the names learners use; the demo server stays on loopback.",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="Start everything, print the URL, then stop (for scripts).",
        )

    def handle(self, *args, **options) -> None:
        started = time.perf_counter()
        options["demo_port"] = options["demo_port"] or options["port"] + 1
        options["asgi_port"] = options["asgi_port"] or options["port"] + 2
        options["pgbouncer_port"] = options["pgbouncer_port"] or options["port"] + 3
        _check_bounds(options)
        lab = Lab(
            host=options["host"],
            port=options["port"],
            demo_port=options["demo_port"],
            asgi_port=options["asgi_port"],
            pgbouncer_port=options["pgbouncer_port"],
            workers=options["workers"],
            threads=options["threads"],
            database_url=os.environ.get("DATABASE_URL") or None,
        )
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _stop_requested)
        try:
            self._start(lab, started)
            self.stdout.write("Press Ctrl-C to stop everything.")
            while not options["check"]:
                time.sleep(0.5)
                self._watch(lab)
        except StopRequested:
            pass
        except (LabStartError, PostgresStartError) as exc:
            raise CommandError(str(exc)) from None
        except (RuntimeError, TimeoutError) as exc:
            raise CommandError(f"{exc}. The servers' logs are in {lab.log_dir}.") from None
        except (psycopg.Error, DatabaseError) as exc:
            raise CommandError(
                f"The database is not reachable or refused the lab: {exc}\n"
                "Check DATABASE_URL (or unset it to use the embedded PostgreSQL)."
            ) from None
        finally:
            connections.close_all()
            if lab.stop():
                self.stdout.write("Stopped every server the lab started.")

    def _start(self, lab: Lab, started: float) -> None:
        lab.check_ports()
        url = lab.start_database()
        where = "embedded PostgreSQL" if lab.embedded else "PostgreSQL from DATABASE_URL"
        self.stdout.write(f"Database: {where} ({_hide_password(url)})")
        lab.prepare_roles(_dsn(url))
        if lab.demo_role_problem:
            self.stdout.write(
                self.style.WARNING(
                    f"Demo connections use the site's own user: {lab.demo_role_problem}"
                )
            )
        lab.start_pgbouncer()
        if lab.bouncer:
            self.stdout.write(
                f"PgBouncer {lab.bouncer.version} at 127.0.0.1:{lab.pgbouncer_port} "
                "(session and transaction pools)."
            )
        elif lab.pgbouncer_problem:
            self.stdout.write(self.style.WARNING(f"Without PgBouncer: {lab.pgbouncer_problem}"))
        # The site boots (seconds of imports) while migrations and static files are done;
        # the demo server boots once the first page is up, so the two do not share the CPU.
        lab.start_site()
        _point_django_at(url)
        call_command("migrate", verbosity=0, interactive=False)
        _collect_static_if_changed()
        connections.close_all()
        lab.wait_for_site()
        lab.start_demo()
        lab.start_workers()
        self.stdout.write(
            self.style.SUCCESS(
                f"Pooling Lab is ready at {lab.url}/ "
                f"(started in {time.perf_counter() - started:.1f} s)"
            )
        )
        lab.wait_for_demo()
        self.stdout.write(
            f"Instructor view: {lab.url}/instructor/ (sign in with the token in "
            f"{settings.LAB_DIR / 'instructor_password'}, or set POOLING_LAB_INSTRUCTOR_TOKEN)."
        )
        self.stdout.write(
            f"Demo servers: gunicorn (gthread) at {lab.demo_url}, {lab.workers} workers x "
            f"{lab.threads} threads; uvicorn at {lab.asgi_url}. {lab.run_workers} run workers; "
            f"connection budget {lab.budget} "
            f"(ready after {time.perf_counter() - started:.1f} s)."
        )

    def _watch(self, lab: Lab) -> None:
        for name, tail in lab.watch():
            self.stdout.write(
                self.style.WARNING(f"The lab's {name} stopped; started it again. Its log ended:")
            )
            self.stdout.write(tail.rstrip() or "(nothing)")


BOUNDS = {
    "port": (1024, 65535),
    "demo_port": (1024, 65535),
    "asgi_port": (1024, 65535),
    "pgbouncer_port": (1024, 65535),
    "workers": (1, 8),
    "threads": (1, 32),
}


def _check_bounds(options: dict) -> None:
    for name, (low, high) in BOUNDS.items():
        value = options[name]
        if value is not None and not low <= value <= high:
            flag = "--" + name.replace("_", "-")
            raise CommandError(f"{flag} must be from {low} to {high}, not {value}")


def _point_django_at(url: str) -> None:
    import dj_database_url

    parsed = dj_database_url.parse(url)
    db = settings.DATABASES["default"]
    for key in ("NAME", "USER", "PASSWORD", "HOST", "PORT"):
        db[key] = parsed[key]


def _dsn(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def _hide_password(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _collect_static_if_changed() -> None:
    """collectstatic re-hashes and re-compresses every file; skip it when nothing changed."""
    from pathlib import Path

    sources = sorted(
        p for d in settings.STATICFILES_DIRS for p in Path(d).rglob("*") if p.is_file()
    )
    stamp = "\n".join(f"{p}:{p.stat().st_mtime_ns}:{p.stat().st_size}" for p in sources)
    stamp_file = Path(settings.STATIC_ROOT) / ".sources"
    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    if manifest.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return
    newest = max((p.stat().st_mtime for p in sources), default=0)
    if manifest.exists() and not stamp_file.exists() and manifest.stat().st_mtime > newest:
        return  # collected at build time (the Docker image), after every source changed
    call_command("collectstatic", verbosity=0, interactive=False)
    stamp_file.write_text(stamp)
