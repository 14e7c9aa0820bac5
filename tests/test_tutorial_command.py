"""`manage.py tutorial` as a learner runs it: starts, serves, and stops every child."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from lessons.services.processes import free_port

ROOT = Path(__file__).resolve().parent.parent


def start_tutorial(tmp_path: Path, port: int) -> tuple[subprocess.Popen, list[str]]:
    env = {
        **os.environ,
        "POOLING_LAB_DIR": str(tmp_path / "lab"),
        "POOLING_LAB_PG_PORT": str(free_port()),
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "tutorial",
            "--port",
            str(port),
            "--demo-port",
            str(free_port()),
            "--asgi-port",
            str(free_port()),
            "--pgbouncer-port",
            str(free_port()),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []

    def read() -> None:  # all of the lab's output, as it comes, for tests to await
        for line in proc.stdout:
            lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    if await_line(lines, "Demo servers:", timeout=90, proc=proc):
        return proc, lines
    proc.kill()
    pytest.fail("tutorial did not become ready:\n" + "".join(lines))


def await_line(lines: list[str], text: str, timeout: float, proc=None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in line for line in lines):
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.1)
    return False


def stop_tutorial(proc: subprocess.Popen, lines: list[str], timeout: float = 60) -> None:
    """SIGTERM, as a terminal's Ctrl-C or a service manager would; a lab that does not stop
    in time fails the test with what it printed, and is killed with its children."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        left = descendants(proc.pid)
        for process in [psutil.Process(proc.pid), *left]:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        proc.wait(10)
        pytest.fail(f"the lab did not stop within {timeout:.0f} s:\n" + "".join(lines))


def descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def wait_gone(processes: list[psutil.Process], timeout: float = 20) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    return alive


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read()


@pytest.mark.django_db
def test_tutorial_serves_lesson_two_and_stops_every_child_on_sigterm(tmp_path):
    port = free_port()
    proc, lines = start_tutorial(tmp_path, port)
    children = descendants(proc.pid)
    try:
        names = {c.name() for c in children}
        # The demo server, the site (gunicorn masters and workers) and, unless
        # DATABASE_URL is set, PostgreSQL.
        assert any("gunicorn" in " ".join(c.cmdline()) for c in children)
        if not os.environ.get("DATABASE_URL"):
            assert "postgres" in names
        commands = [command(c) for c in children]
        # The ASGI demo server, the run workers, and PgBouncer when it is installed.
        assert any("uvicorn" in c for c in commands)
        assert sum("db_worker" in c for c in commands) == 3
        status, page = get(f"http://127.0.0.1:{port}/lessons/no-pooling/")
        assert status == 200 and b"No pooling" in page
        assert any("2 workers x 4 threads" in line for line in lines)
        kill_and_await_restart(proc, children, "db_worker")
        assert await_line(lines, "The lab's worker-", timeout=20)
        if "pgbouncer" in names:
            kill_and_await_restart(proc, descendants(proc.pid), "pgbouncer")
            assert await_line(lines, "The lab's pgbouncer stopped; started it again", 20)
    finally:
        stop_tutorial(proc, lines)
    assert proc.returncode == 0, "".join(lines)
    assert await_line(lines, "Stopped every server the lab started.", timeout=5)
    assert wait_gone(children) == []


def command(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:  # exited meanwhile, or a zombie not yet reaped
        return ""


def kill_and_await_restart(proc, children, marker: str) -> None:
    """kill -9 one child whose command mentions `marker`; the lab starts it again."""
    before = sum(marker in command(c) for c in children)
    victim = next(c for c in children if marker in command(c))
    victim.kill()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        again = [c for c in descendants(proc.pid) if marker in command(c) and c.pid != victim.pid]
        if len(again) >= before:
            return
        time.sleep(0.2)
    raise AssertionError(f"the lab did not start {marker} again")


@pytest.mark.django_db
def test_a_killed_tutorial_leaves_no_orphans(tmp_path):
    proc, _ = start_tutorial(tmp_path, free_port())
    children = descendants(proc.pid)
    assert children
    proc.kill()  # no chance to clean up: the kernel's parent-death signal does it
    proc.wait(10)
    assert wait_gone(children) == []


@pytest.mark.django_db
def test_a_restart_after_a_crash_recovers(tmp_path):
    proc, _ = start_tutorial(tmp_path, free_port())
    children = descendants(proc.pid)
    proc.kill()
    proc.wait(10)
    wait_gone(children)
    port = free_port()
    again, _ = start_tutorial(tmp_path, port)
    try:
        status, _ = get(f"http://127.0.0.1:{port}/")
        assert status == 200
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(60)


def test_port_in_use_says_exactly_what_to_do(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "manage.py", "tutorial", "--port", str(port)],
            cwd=ROOT,
            env={**os.environ, "POOLING_LAB_DIR": str(tmp_path / "lab")},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert f"Port {port}, wanted for the site, is in use" in result.stderr
    assert f"uv run manage.py tutorial --port {port + 10}" in result.stderr


def test_an_unreachable_database_url_is_a_clear_error(tmp_path):
    closed = free_port()  # nothing listens there
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "tutorial",
            "--port",
            str(free_port()),
            "--demo-port",
            str(free_port()),
            "--asgi-port",
            str(free_port()),
            "--pgbouncer-port",
            str(free_port()),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "POOLING_LAB_DIR": str(tmp_path / "lab"),
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{closed}/nowhere",
        },
    )
    assert result.returncode != 0
    assert "The database is not reachable" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("flag", "value"), [("--workers", "0"), ("--threads", "99"), ("--port", "80")]
)
def test_out_of_range_options_are_refused_with_the_range(flag, value):
    result = subprocess.run(
        [sys.executable, "manage.py", "tutorial", flag, value],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert f"{flag} must be from" in result.stderr


def test_a_postgres_left_on_the_data_folder_is_stopped_and_replaced(tmp_path):
    from lessons.services import postgres

    lab_dir, pg_port = tmp_path / "lab", free_port()
    env = {**os.environ, "POOLING_LAB_DIR": str(lab_dir), "POOLING_LAB_PG_PORT": str(pg_port)}
    env.pop("DATABASE_URL", None)
    args = [
        sys.executable,
        "manage.py",
        "tutorial",
        "--check",
        "--port",
        str(free_port()),
        "--demo-port",
        str(free_port()),
        # Every port named: the defaults (the site's port + 2, + 3) may be taken by any
        # outgoing connection's ephemeral port.
        "--asgi-port",
        str(free_port()),
        "--pgbouncer-port",
        str(free_port()),
    ]
    first = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    # A server on the folder and port that no lab owns, as a crash of an older lab leaves.
    server = postgres.EmbeddedPostgres(lab_dir / "pgdata", pg_port)
    orphan = subprocess.Popen(
        [
            str(postgres._bin_dir() / "postgres"),
            "-D",
            str(server.data_dir),
            "-p",
            str(pg_port),
            "-h",
            "127.0.0.1",
            "-c",
            "unix_socket_directories=",
        ],
        user=postgres.SYSTEM_USER if os.geteuid() == 0 else None,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not server._accepts() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server._accepts()
        again = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        assert "is ready at" in again.stdout
        assert orphan.wait(10) is not None  # the lab stopped it before starting its own
    finally:
        if orphan.poll() is None:
            orphan.kill()


@pytest.mark.django_db
def test_a_postgresql_restarted_behind_the_labs_back_is_still_stopped_with_it(tmp_path):
    if os.environ.get("DATABASE_URL"):
        pytest.skip("the lab runs no PostgreSQL of its own with DATABASE_URL")
    from lessons.services import postgres

    proc, lines = start_tutorial(tmp_path, free_port())
    data = tmp_path / "lab" / "pgdata"
    try:
        user = postgres.SYSTEM_USER if os.geteuid() == 0 else None
        pg_ctl = postgres._bin_dir() / "pg_ctl"
        log = data / "pg_ctl.log"  # in the folder PostgreSQL's own user may write
        # The new postmaster outlives pg_ctl: its output goes to a file, not to a pipe
        # this test would wait on.
        done = subprocess.run(
            [
                str(pg_ctl),
                "restart",
                "-D",
                str(data),
                "-m",
                "fast",
                "-w",
                "-t",
                "30",
                "-l",
                str(log),
            ],
            user=user,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        serving = [p for p in psutil.process_iter(["name", "cmdline"]) if str(data) in command(p)]
        assert serving  # a new postmaster, not the lab's child
    finally:
        stop_tutorial(proc, lines)
    assert wait_gone(serving) == []
