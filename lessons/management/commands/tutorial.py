"""`manage.py tutorial`: start everything the lessons need and serve the site."""

from __future__ import annotations

import os
import signal
import threading
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from lessons.services.launcher import Lab, LabStartError
from lessons.services.postgres import PostgresStartError


class Command(BaseCommand):
    help = "Start PostgreSQL (embedded unless DATABASE_URL is set), the demo server and the site."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=8000, help="The site's port (8000).")
        parser.add_argument("--demo-port", type=int, default=None,
                            help="The demo server's port (the site's port + 1).")
        parser.add_argument("--workers", type=int, default=settings.LAB["WSGI_WORKERS"],
                            help="Demo server worker processes (2).")
        parser.add_argument("--threads", type=int, default=settings.LAB["WSGI_THREADS"],
                            help="Threads per demo worker (4).")
        parser.add_argument("--check", action="store_true",
                            help="Start everything, print the URL, then stop (for scripts).")

    def handle(self, *args, **options) -> None:
        started = time.perf_counter()
        lab = Lab(port=options["port"], demo_port=options["demo_port"] or options["port"] + 1,
                  workers=options["workers"], threads=options["threads"],
                  database_url=os.environ.get("DATABASE_URL") or None)
        stop_requested = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop_requested.set())
        try:
            self._start(lab)
            self.stdout.write(self.style.SUCCESS(
                f"Pooling Lab is ready at {lab.url}/ (started in {time.perf_counter() - started:.1f} s)"))
            self.stdout.write("Press Ctrl-C to stop everything.")
            while not (options["check"] or stop_requested.wait(0.5)):
                self._watch(lab)
        except (LabStartError, PostgresStartError) as exc:
            raise CommandError(str(exc)) from None
        finally:
            connections.close_all()
            lab.stop()
            self.stdout.write("Stopped the site, the demo server and PostgreSQL.")

    def _start(self, lab: Lab) -> None:
        lab.check_ports()
        url = lab.start_database()
        where = "embedded PostgreSQL" if lab.embedded else "PostgreSQL from DATABASE_URL"
        self.stdout.write(f"Database: {where} ({_hide_password(url)})")
        _point_django_at(url)
        call_command("migrate", verbosity=0, interactive=False)
        call_command("collectstatic", verbosity=0, interactive=False)
        from lessons import runs

        runs.fail_interrupted()
        connections.close_all()
        lab.prepare_roles(_dsn(url))
        if lab.demo_role_problem:
            self.stdout.write(self.style.WARNING(
                f"Demo connections use the site's own user: {lab.demo_role_problem}"))
        lab.start_servers()
        self.stdout.write(
            f"Demo server: gunicorn (gthread) at {lab.demo_url}, {lab.workers} workers x "
            f"{lab.threads} threads; connection budget {lab.budget}.")

    def _watch(self, lab: Lab) -> None:
        for proc in lab.children:
            if proc.poll() is not None:
                raise CommandError(
                    f"A lab server stopped unexpectedly (exit {proc.returncode}); see the logs "
                    f"in {lab.log_dir}.")


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
