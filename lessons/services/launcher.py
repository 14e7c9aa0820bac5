"""Starts and stops everything the lessons need: PostgreSQL, demo server, site.

`manage.py tutorial` uses it, and so does the test suite, so the tests exercise
exactly the processes a learner runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from . import postgres
from .processes import port_is_free, spawn, stop, wait_for, who_listens

ROOT = Path(settings.BASE_DIR)


class LabStartError(RuntimeError):
    """Something is in the way; the message says exactly what to do."""


@dataclass
class Lab:
    host: str = "127.0.0.1"
    port: int = 8000
    demo_port: int = 8001
    workers: int = 2
    threads: int = 4
    site_threads: int = 8
    # When None: the embedded server in `data_dir`; else the server at this URL.
    database_url: str | None = None
    data_dir: Path = field(default_factory=lambda: Path(settings.LAB_DIR) / "pgdata")
    pg_port: int = field(default_factory=lambda: settings.EMBEDDED_PG_PORT)
    log_dir: Path = field(default_factory=lambda: Path(settings.LAB_DIR) / "logs")
    embedded: postgres.EmbeddedPostgres | None = None
    children: list = field(default_factory=list)
    budget: int = 0
    demo_role_problem: str | None = None
    site: subprocess.Popen | None = None
    demo: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in {"0.0.0.0", "::"} else self.host
        return f"http://{host}:{self.port}"

    @property
    def demo_url(self) -> str:
        return f"http://127.0.0.1:{self.demo_port}"

    def check_ports(self) -> None:
        for port, what, flag in (
            (self.port, "the site", "--port"),
            (self.demo_port, "the demo server", "--demo-port"),
        ):
            if not port_is_free(port, self.host if port == self.port else "127.0.0.1"):
                raise LabStartError(
                    f"Port {port}, wanted for {what}, is in use by {who_listens(port)}.\n"
                    f"Stop that program, or start the lab on other ports, for example:\n"
                    f"    uv run manage.py tutorial {flag} {port + 10}"
                )

    def start_database(self) -> str:
        """Start the embedded PostgreSQL unless a DATABASE_URL was given; return its URL."""
        if self.database_url:
            return self.database_url
        self.embedded = postgres.EmbeddedPostgres(self.data_dir, self.pg_port)
        # A server a crashed lab left on this folder holds the port: stop it first.
        self.embedded.clear_orphan()
        if not port_is_free(self.pg_port):
            self.embedded = None
            raise LabStartError(
                f"Port {self.pg_port}, wanted for the embedded PostgreSQL, is in use by "
                f"{who_listens(self.pg_port)}.\nStop it, or choose another port:\n"
                f"    POOLING_LAB_PG_PORT={self.pg_port + 1} uv run manage.py tutorial"
            )
        self.embedded.start()
        self.database_url = self.embedded.url
        return self.database_url

    def prepare_roles(self, dsn: str) -> None:
        facts = postgres.server_facts(dsn)
        self.budget = settings.LAB["CONNECTION_BUDGET"] or facts["max_connections"] // 2
        if self.budget // self.workers < self.threads:
            # no-pool and persistent hold one connection per demo thread: they must fit.
            raise LabStartError(
                f"{self.workers} workers x {self.threads} threads could hold "
                f"{self.workers * self.threads} demo connections, past the connection budget "
                f"of {self.budget}. Use fewer --workers or --threads, or set "
                "POOLING_LAB_CONNECTION_BUDGET (at most half of max_connections is wise)."
            )
        self.demo_role_problem = postgres.ensure_demo_role(
            dsn, settings.LAB["DEMO_ROLE"], settings.LAB["DEMO_PASSWORD"], self.budget
        )

    def child_env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tutorial.settings",
            "DATABASE_URL": self.database_url or "",
            "POOLING_LAB_WSGI_URL": self.demo_url,
            "POOLING_LAB_WSGI_WORKERS": str(self.workers),
            "POOLING_LAB_WSGI_THREADS": str(self.threads),
            "POOLING_LAB_CONNECTION_BUDGET": str(self.budget),
            "PYTHONUNBUFFERED": "1",
        }
        if self.demo_role_problem:
            env["POOLING_LAB_DEMO_ROLE"] = ""
        return env

    def _gunicorn(
        self, name: str, port: int, workers: int, threads: int, host: str = "127.0.0.1"
    ) -> subprocess.Popen:
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "tutorial.wsgi:application",
            "--bind",
            f"{host}:{port}",
            "--worker-class",
            "gthread",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--graceful-timeout",
            "5",
            "--timeout",
            "60",
            "--no-control-socket",
            "--name",
            f"pooling-lab-{name}",
        ]
        proc = spawn(cmd, log_path=self.log_dir / f"{name}.log", env=self.child_env(), cwd=ROOT)
        self.children.append(proc)
        return proc

    def start_site(self) -> None:
        # The site runs the learners' runs against the demo server; one process so
        # that its run queue and monitor history are shared.
        self.site = self._gunicorn("site", self.port, 1, self.site_threads, self.host)

    def start_demo(self) -> None:
        # The demo server answers probes; its workers x threads are what the lessons count.
        self.demo = self._gunicorn("demo", self.demo_port, self.workers, self.threads)

    def start_servers(self) -> None:
        self.start_site()
        self.start_demo()
        self.wait_for_site()
        self.wait_for_demo()

    def wait_for_site(self) -> None:
        # The index, not a cheap endpoint: its first rendering parses every lesson,
        # which belongs before "ready", not in the learner's first page.
        self._wait(self.site, self.url + "/")

    def wait_for_demo(self) -> None:
        self._wait(self.demo, self.demo_url + "/api/strategies")

    def _wait(self, proc, url: str) -> None:
        wait_for(lambda: _answers(url), timeout=30, proc=proc, what=f"gunicorn at {url}")

    def stop(self) -> bool:
        """Stop every child, newest first; say whether anything was running."""
        was_running = bool(self.children or self.embedded)
        for proc in reversed(self.children):
            stop(proc)
        self.children.clear()
        if self.embedded is not None:
            self.embedded.stop()
            self.embedded = None
        return was_running


def _answers(url: str) -> bool:
    """The server answers: any response but a server error (a 400 for a host name that
    is not in ALLOWED_HOSTS still means it is up)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False
