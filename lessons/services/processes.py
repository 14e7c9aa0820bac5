"""Child processes that die with the lab.

Every server the lab starts is a child of `manage.py tutorial` (or of the test
session). The kernel sends each child a signal when its parent dies
(PR_SET_PDEATHSIG), so even a `kill -9` of the lab leaves no orphaned
postgres, gunicorn or pgbouncer behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1


def _die_with_parent(sig: int):
    parent = os.getpid()

    def preexec() -> None:
        # Runs in the child after the uid switch: a credential change clears the
        # parent-death signal, so it has to be set last.
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, sig)
        if os.getppid() != parent:  # the parent died before prctl: nobody will signal
            os.kill(os.getpid(), sig)

    return preexec


def spawn(
    cmd: list[str],
    *,
    log_path: Path,
    env: dict[str, str] | None = None,
    user: str | None = None,
    death_signal: int = signal.SIGTERM,
    cwd: Path | None = None,
) -> subprocess.Popen:
    """Start `cmd` in its own session, logging to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 - the child owns it from here
    try:
        return subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            user=user,
            group=_group_of(user),
            extra_groups=[] if user else None,
            # Own session: a Ctrl-C in the terminal reaches the lab only, which
            # then stops its children in order.
            start_new_session=True,
            preexec_fn=_die_with_parent(death_signal),
        )
    finally:
        log.close()


def _group_of(user: str | None) -> int | None:
    if user is None:
        return None
    import pwd

    return pwd.getpwnam(user).pw_gid


def stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
    """Ask a child to stop, and kill it if it does not within `timeout`."""
    stop_together([(proc, sig)], timeout)


def stop_together(procs: list[tuple[subprocess.Popen | None, int]], timeout: float = 10) -> None:
    """Ask every child to stop at once, then kill those still running after `timeout`."""
    running = [(proc, sig) for proc, sig in procs if proc is not None and proc.poll() is None]
    for proc, sig in running:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
    deadline = time.monotonic() + timeout
    for proc, _ in running:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(5)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except (OSError, OverflowError):
            return False
    return True


# Ports this process has handed out. The kernel may give the same free port to two
# bind(0) calls in a row (about once in 4,000 sets of four here), and two servers
# told the same port means one answers for the other: never hand a port out twice.
_handed_out: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def who_listens(port: int) -> str:
    """A short description of the process on `port`, for an error message."""
    try:
        import psutil

        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == "LISTEN" and conn.pid:
                proc = psutil.Process(conn.pid)
                return f"pid {conn.pid} ({' '.join(proc.cmdline())[:80]})"
    except Exception:
        pass
    return "another program"


def wait_for(check, *, timeout: float, interval: float = 0.05, proc=None, what: str = "") -> None:
    """Poll `check()` until it is true; fail early if `proc` has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        time.sleep(interval)
    raise TimeoutError(f"{what} was not ready after {timeout:.0f} s")
