"""Starts and stops everything the lessons need: PostgreSQL, PgBouncer, demo servers,
run workers and the site.

`manage.py tutorial` uses it, and so does the test suite, so the tests exercise exactly
the processes a learner runs. Every child is started from a `Child` recipe, so that the
supervisor can start it again when it dies.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from . import postgres
from .lab_pgbouncer import WithPgBouncer
from .pgbouncer import ManagedPgBouncer
from .processes import port_is_free, spawn, wait_for, who_listens
from .supervisor import Child, LabStartError, Supervised

ROOT = Path(settings.BASE_DIR)


@dataclass
class Lab(Supervised, WithPgBouncer):
    host: str = "127.0.0.1"
    port: int = 8000
    demo_port: int = 8001
    asgi_port: int = 8002
    workers: int = 2
    threads: int = 4
    site_threads: int = 8
    run_workers: int = field(default_factory=lambda: settings.LAB["RUN_WORKERS"])
    # When None: the embedded server in `data_dir`; else the server at this URL.
    database_url: str | None = None
    data_dir: Path = field(default_factory=lambda: Path(settings.LAB_DIR) / "pgdata")
    pg_port: int = field(default_factory=lambda: settings.EMBEDDED_PG_PORT)
    log_dir: Path = field(default_factory=lambda: Path(settings.LAB_DIR) / "logs")
    embedded: postgres.EmbeddedPostgres | None = None
    children: dict[str, Child] = field(default_factory=dict)
    budget: int = 0
    demo_role_problem: str | None = None
    # Extra environment for the children (PgBouncer's address, for one).
    extra_env: dict[str, str] = field(default_factory=dict)
    pgbouncer_port: int = 8003
    pgbouncer_dir: Path = field(default_factory=lambda: Path(settings.LAB_DIR) / "pgbouncer")
    bouncer: ManagedPgBouncer | None = None
    # Why the lab runs without PgBouncer (None when it has one).
    pgbouncer_problem: str | None = None
    # Where the site leaves requests for the supervisor (lessons.services.control).
    control_dir: Path = field(default_factory=lambda: Path(settings.LAB_DIR) / "control")
    # False when the embedded server belongs to someone else (the test suite).
    owns_database: bool = True
    _watching: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in {"0.0.0.0", "::"} else self.host
        return f"http://{host}:{self.port}"

    @property
    def demo_url(self) -> str:
        return f"http://127.0.0.1:{self.demo_port}"

    @property
    def asgi_url(self) -> str:
        return f"http://127.0.0.1:{self.asgi_port}"

    def check_ports(self) -> None:
        for port, what, flag in (
            (self.port, "the site", "--port"),
            (self.demo_port, "the WSGI demo server", "--demo-port"),
            (self.asgi_port, "the ASGI demo server", "--asgi-port"),
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
        from lessons import lab

        facts = postgres.server_facts(dsn)
        self.budget = settings.LAB["CONNECTION_BUDGET"] or facts["max_connections"] // 2
        slices = lab.budget_slices(self.budget)
        if slices["wsgi"] // self.workers < self.threads:
            # no-pool and persistent hold one connection per demo thread: they must fit.
            raise LabStartError(
                f"{self.workers} workers x {self.threads} threads could hold "
                f"{self.workers * self.threads} demo connections, past the WSGI demo server's "
                f"slice ({slices['wsgi']}) of the connection budget of {self.budget}. Use "
                "fewer --workers or --threads, or set POOLING_LAB_CONNECTION_BUDGET (at most "
                "half of max_connections is wise)."
            )
        cfg = settings.LAB
        roles = [
            (cfg["DEMO_ROLE"], cfg["DEMO_PASSWORD"], slices["wsgi"]),
            (cfg["ASGI_ROLE"], cfg["ASGI_PASSWORD"], slices["asgi"]),
            (cfg["BOUNCER_ROLE"], cfg["BOUNCER_PASSWORD"], slices["pgbouncer"]),
        ]
        for role, password, limit in roles:
            if role and not self.demo_role_problem:
                self.demo_role_problem = postgres.ensure_demo_role(dsn, role, password, limit)

    def child_env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tutorial.settings",
            "DATABASE_URL": self.database_url or "",
            "POOLING_LAB_WSGI_URL": self.demo_url,
            "POOLING_LAB_WSGI_WORKERS": str(self.workers),
            "POOLING_LAB_WSGI_THREADS": str(self.threads),
            "POOLING_LAB_ASGI_URL": self.asgi_url,
            "POOLING_LAB_ASGI_WORKERS": "1",
            "POOLING_LAB_CONNECTION_BUDGET": str(self.budget),
            "POOLING_LAB_CONTROL_DIR": str(self.control_dir),
            "POOLING_LAB_EMBEDDED_PG": "1" if self.embedded else "",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        if self.demo_role_problem:
            env["POOLING_LAB_DEMO_ROLE"] = ""
        return env

    def _spawn(self, name: str, cmd: list[str], **env: str) -> subprocess.Popen:
        log = self.log_dir / f"{name}.log"
        return spawn(cmd, log_path=log, env={**self.child_env(), **env}, cwd=ROOT)

    def _gunicorn(
        self, name: str, app: str, port: int, workers: int, threads: int, host: str, **env: str
    ) -> subprocess.Popen:
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            app,
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
        return self._spawn(name, cmd, **env)

    def add(self, name: str, start: Callable[[], subprocess.Popen]) -> Child:
        child = Child(name, start)
        child.proc = start()
        self.children[name] = child
        return child

    def start_site(self) -> None:
        # The site renders lessons and queues runs; it never answers a probe.
        self.add(
            "site",
            lambda: self._gunicorn(
                "site", "tutorial.wsgi:application", self.port, 1, self.site_threads, self.host
            ),
        )

    def start_demo(self) -> None:
        # The demo servers answer probes and nothing else (tutorial.settings_demo); their
        # workers x threads are what the lessons count.
        self.add(
            "demo",
            lambda: self._gunicorn(
                "demo",
                "tutorial.demo_wsgi:application",
                self.demo_port,
                self.workers,
                self.threads,
                "127.0.0.1",
                DJANGO_SETTINGS_MODULE="tutorial.settings_demo",
            ),
        )
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "tutorial.demo_asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.asgi_port),
            "--workers",
            "1",
            "--no-access-log",
            "--lifespan",
            "off",
        ]
        self.add(
            "asgi",
            lambda: self._spawn(
                "asgi",
                cmd,
                DJANGO_SETTINGS_MODULE="tutorial.settings_demo",
                POOLING_LAB_SERVER="asgi",
            ),
        )

    def start_workers(self) -> None:
        """The run workers: django-tasks-db's db_worker, polling the queue in PostgreSQL."""
        for number in range(1, self.run_workers + 1):
            cmd = [
                sys.executable,
                "manage.py",
                "db_worker",
                "--interval",
                "0.1",
                "--no-startup-delay",
                "--no-reload",
                "--worker-id",
                f"lab-{os.getpid()}-{number}",
            ]
            self.add(f"worker-{number}", lambda cmd=cmd, n=number: self._spawn(f"worker-{n}", cmd))

    def start_servers(self) -> None:
        self.start_pgbouncer()
        self.start_site()
        self.start_demo()
        self.start_workers()
        self.wait_for_site()
        self.wait_for_demo()

    def wait_for_site(self) -> None:
        # The index, not a cheap endpoint: its first rendering parses every lesson,
        # which belongs before "ready", not in the learner's first page.
        self._wait("site", self.url + "/")

    def wait_for_demo(self) -> None:
        self._wait("demo", self.demo_url + "/healthz")
        self._wait("asgi", self.asgi_url + "/healthz")

    def _wait(self, name: str, url: str) -> None:
        proc = self.children[name].proc
        wait_for(lambda: _answers(url), timeout=30, proc=proc, what=f"{name} at {url}")


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
