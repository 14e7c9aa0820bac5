"""Keeping the lab's children alive, and doing what the site asks of the lab.

`Lab` (lessons.services.launcher) takes these methods: `watch()` runs twice a second in
`manage.py tutorial` (and in the test suite's lab), `stop()` at the end.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import control
from .processes import stop, stop_together


class LabStartError(RuntimeError):
    """Something is in the way; the message says exactly what to do."""


# A child that dies more often than this within a minute is not restarted again.
MAX_RESTARTS_PER_MINUTE = 5
# "Stop PgBouncer" keeps it down this long, so that a learner can see requests fail.
PGBOUNCER_DOWN_SECONDS = 15


@dataclass
class Child:
    name: str
    start: Callable[[], subprocess.Popen]
    proc: subprocess.Popen | None = None
    restarts: list[float] = field(default_factory=list)
    # How to ask it to stop (PgBouncer 1.23+ wants SIGQUIT: its SIGTERM waits for clients).
    stop_signal: int = signal.SIGTERM
    # Stopped on purpose until then (monotonic seconds): not a death to report.
    held_until: float = 0.0

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        stop(self.proc, self.stop_signal)


class Supervised:
    """What a Lab does once its children run (it holds children, control_dir, embedded,
    bouncer, log_dir, owns_database and a _watching lock)."""

    def watch(self) -> list[tuple[str, str]]:
        """One look: do what the site asked for, then start again any child that died."""
        with self._watching:
            self.control_dir.mkdir(parents=True, exist_ok=True)
            for action in control.pending(self.control_dir):
                try:
                    result = self._do(action)
                except Exception as exc:  # told to the site, never left pending
                    result = {"ok": False, "message": f"{action} failed: {exc}"}
                control.finish(self.control_dir, action, result)
            return self.supervise()

    def _do(self, action: str) -> dict:
        started = time.monotonic()
        if action == "restart-postgres":
            if self.embedded is None:
                return {"ok": False, "message": "the lab does not run this PostgreSQL"}
            self.embedded.stop()
            self.embedded.start()
            return {"ok": True, "seconds": round(time.monotonic() - started, 2)}
        child = self.children.get("pgbouncer")
        if child is None or self.bouncer is None:
            return {"ok": False, "message": "the lab does not run a PgBouncer"}
        child.stop()
        child.held_until = time.monotonic() + PGBOUNCER_DOWN_SECONDS
        return {"ok": True, "back_in_seconds": PGBOUNCER_DOWN_SECONDS}

    def supervise(self) -> list[tuple[str, str]]:
        """Start again every child that died; say which, with the end of its log. Raise if
        one keeps dying."""
        restarted = []
        now = time.monotonic()
        for child in self.children.values():
            if child.alive():
                continue
            if child.held_until:
                if now < child.held_until:
                    continue  # stopped on purpose: back when its time is up
                child.held_until = 0.0
                child.proc = child.start()
                continue
            child.restarts = [t for t in child.restarts if now - t < 60] + [now]
            if len(child.restarts) > MAX_RESTARTS_PER_MINUTE:
                raise LabStartError(
                    f"The lab's {child.name} keeps stopping (exit {child.proc.returncode}); "
                    f"see {self.log_dir / (child.name + '.log')}."
                )
            log = self.log_dir / f"{child.name}.log"
            tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
            child.proc = child.start()
            restarted.append((child.name, tail))
        return restarted

    def stop(self) -> bool:
        """Stop every child, then the database; say whether anything was running."""
        was_running = bool(self.children or self.embedded)
        with self._watching:  # a watch() meanwhile would start them again
            # All at once: one slow child costs its own grace time, not everyone's after it.
            stop_together([(c.proc, c.stop_signal) for c in self.children.values()])
            self.children.clear()
        if self.embedded is not None and self.owns_database:
            self.embedded.stop()
        self.embedded = None
        return was_running
