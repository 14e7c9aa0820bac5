"""The real parts the suite runs against.

PostgreSQL is the embedded server (started here in its own folder and port), or
the one at DATABASE_URL. The `lab` fixture starts the same gunicorn demo server
and site that `manage.py tutorial` starts, pointed at the test database.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from lessons.services import postgres
from lessons.services.launcher import Lab
from lessons.services.processes import free_port

from .support import Http

ROOT = Path(__file__).resolve().parent.parent
TEST_DIR = ROOT / ".lab" / "test"


@pytest.fixture(scope="session")
def embedded_pg():
    if os.environ.get("DATABASE_URL"):
        yield None
        return
    server = postgres.EmbeddedPostgres(TEST_DIR / "pgdata", free_port())
    server.start()
    db = settings.DATABASES["default"]
    db["HOST"], db["PORT"] = "127.0.0.1", server.port
    yield server
    server.stop()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(embedded_pg, django_db_modify_db_settings_parallel_suffix):
    """Point Django at the embedded server before pytest-django makes the test database."""


def database_url() -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture(scope="session")
def lab(django_db_setup, django_db_blocker, tmp_path_factory, embedded_pg):
    """The real lab servers (gunicorn demo server 2 x 4, site) on the test database."""
    url = database_url()
    static_root = tmp_path_factory.mktemp("static")
    settings.STATIC_ROOT = static_root
    with django_db_blocker.unblock():
        call_command("collectstatic", verbosity=0, interactive=False)
    instance = Lab(
        port=free_port(),
        demo_port=free_port(),
        asgi_port=free_port(),
        pgbouncer_port=free_port(),
        pgbouncer_dir=TEST_DIR / "pgbouncer",
        workers=2,
        threads=4,
        database_url=url,
        log_dir=TEST_DIR / "logs",
        control_dir=TEST_DIR / "control",
        # The suite's own embedded server: the lab may restart it, never stop it for good.
        embedded=embedded_pg,
        owns_database=False,
        extra_env={
            "STATIC_ROOT": str(static_root),
            # Idle aliases close after 5 s, so tests that count a strategy's connections
            # do not wait 5 minutes for earlier tests' to go.
            "POOLING_LAB_ALIAS_IDLE_SECONDS": "5",
            # The killed-worker test waits this long for the reaper; runs write progress
            # 4 times a second, so 8 s without any is a dead worker even on a busy machine.
            "POOLING_LAB_RUN_STALE_SECONDS": "8",
            # Low enough for the rate-limit test to pass it in a few seconds.
            "POOLING_LAB_RATE_NEWCOMER": "300",
            # Several tests restart PostgreSQL or stop PgBouncer, in any order.
            "POOLING_LAB_FAULT_EVERY_SECONDS": "5",
        },
    )
    instance.prepare_roles(url.replace("postgres://", "postgresql://", 1))
    settings.LAB.update(
        WSGI_URL=instance.demo_url,
        WSGI_WORKERS=2,
        WSGI_THREADS=4,
        ASGI_URL=instance.asgi_url,
        ASGI_WORKERS=1,
        CONNECTION_BUDGET=instance.budget,
        RUN_STALE_SECONDS=8,
        CONTROL_DIR=str(instance.control_dir),
        EMBEDDED_PG=embedded_pg is not None,
    )
    try:
        instance.start_servers()
        settings.LAB["PGBOUNCER"] = instance.pgbouncer_settings()
        # What `manage.py tutorial` does twice a second: the site's requests, dead children.
        # It lives as long as the test process: a child it starts (PostgreSQL after a
        # restart) gets its parent-death signal when the starting thread ends.
        threading.Thread(target=_watch, args=(instance,), daemon=True).start()
        yield instance
    finally:
        instance.stop()


def _watch(instance: Lab) -> None:
    while True:
        time.sleep(0.5)
        try:
            instance.watch()
        except Exception:  # a child that keeps dying: the tests that need it will say so
            logging.getLogger(__name__).exception("the test lab's watch failed")


@pytest.fixture
def site(lab) -> Http:
    return Http(lab.url)


@pytest.fixture
def demo(lab) -> Http:
    return Http(lab.demo_url)


@pytest.fixture
def learner(lab) -> Http:
    """A second learner: a browser of their own (their own session and cookies)."""
    return Http(lab.url)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(TEST_DIR / "logs", ignore_errors=True) if exitstatus == 0 else None


def pytest_collection_modifyitems(config, items):
    # pytest-django makes the test database only for tests that declare it; the
    # lab's servers use it, so every test that uses the lab declares it.
    for item in items:
        if {"lab", "site", "demo"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.django_db)
