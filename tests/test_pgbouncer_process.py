"""The managed PgBouncer as a process: it dies, comes back, never runs as root,
never outlives the lab, and says what to do when it cannot start."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from dataclasses import asdict

import psutil
import pytest

from lessons.services.pgbouncer import SYSTEM_USER, ManagedPgBouncer, PgBouncerError
from lessons.services.processes import free_port, wait_for

from .pgbouncer_support import (
    ROOT,
    WORK,
    backend_pid,
    bouncer_database,
    connect,
    make_config,
    running_bouncer,
)

# pytest-django makes the test database only for tests that declare it.
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def pg(django_db_setup):
    with bouncer_database() as database:
        yield database


@pytest.fixture(scope="module")
def bouncer(pg):
    with running_bouncer(pg, "process") as managed:
        yield managed


def test_kill_9_is_seen_and_restart_comes_back_on_the_same_port(pg):
    managed = ManagedPgBouncer(make_config(pg, free_port()), WORK / "restart")
    managed.start()
    try:
        first = managed.pid
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: not managed.alive(), timeout=10, what="alive() to notice")
        managed.restart()
        assert managed.alive() and managed.pid != first
        with connect(managed, "transaction", 1) as conn:
            assert backend_pid(conn) > 0
        second = managed.pid
    finally:
        managed.stop()
    assert not managed.alive()
    assert not psutil.pid_exists(second)
    assert not [
        p
        for p in psutil.process_iter(["cmdline"])
        if str(managed.ini_path) in (p.info["cmdline"] or [])
    ]


def test_a_pgbouncer_left_on_the_work_folder_is_replaced(pg):
    """A lab that crashed left its PgBouncer running: the next start stops it first."""
    config = make_config(pg, free_port())
    left = ManagedPgBouncer(config, WORK / "left")
    left.start()
    orphan = left.proc
    try:
        fresh = ManagedPgBouncer(config, WORK / "left")
        fresh.start()
        assert orphan.wait(10) is not None
        assert fresh.answers() and fresh.pid != orphan.pid
        fresh.stop()
    finally:
        left.stop()


def test_runs_unprivileged_when_the_lab_is_root(bouncer):
    if os.geteuid() != 0:
        pytest.skip("the lab is not root here: PgBouncer runs as the lab's own user")
    proc = psutil.Process(bouncer.pid)
    assert 0 not in proc.uids() and 0 not in proc.gids()
    assert proc.username() == SYSTEM_USER


def test_pgbouncer_dies_with_the_lab(pg):
    """kill -9 of the lab's process: the kernel ends PgBouncer too (no orphan)."""
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from lessons.services.pgbouncer import ManagedPgBouncer\n"
        "from lessons.services.pgbouncer_config import BouncerConfig\n"
        f"b = ManagedPgBouncer(BouncerConfig(**{asdict(make_config(pg, free_port()))!r}), "
        f"Path({str(WORK / 'orphan')!r}))\n"
        "b.start(); print(b.pid, flush=True); time.sleep(60)\n"
    )
    lab = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE)
    try:
        child = psutil.Process(int(lab.stdout.readline()))
        lab.kill()
        lab.wait(10)
        wait_for(lambda: gone(child), timeout=10, what="PgBouncer to die with its parent")
    finally:
        lab.kill()
        lab.wait(10)


def gone(proc: psutil.Process) -> bool:
    # A zombie is dead too: only its parent (here, init) has yet to reap it.
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_port_in_use_says_what_to_do(pg):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        managed = ManagedPgBouncer(make_config(pg, port), WORK / "port")
        with pytest.raises(PgBouncerError, match=f"(?s)Port {port}.*in use.*another port"):
            managed.start()
    assert not managed.alive()


def test_not_a_pgbouncer_binary_says_what_to_do(pg, tmp_path):
    for binary in ("/bin/true", str(tmp_path / "missing")):
        managed = ManagedPgBouncer(make_config(pg, free_port()), WORK / "bad", binary=binary)
        with pytest.raises(PgBouncerError, match="PGBOUNCER_BIN"):
            managed.start()
        assert not managed.alive()
