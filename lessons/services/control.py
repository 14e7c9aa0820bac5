"""Requests from the site to the lab's supervisor: restart PostgreSQL, stop PgBouncer.

Only the process that started PostgreSQL and PgBouncer (`manage.py tutorial`) may stop
and start them, or it would lose track of them. The site asks by creating a file in the
lab's control folder; the supervisor, which looks twice a second, does it and leaves a
`.done` file behind with when it finished and what happened. One file per action makes
"one at a time" atomic (O_EXCL), and it works across the site's worker processes.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from django.conf import settings

ACTIONS = ("restart-postgres", "stop-pgbouncer")


class AlreadyRequested(RuntimeError):
    pass


def folder() -> Path | None:
    """The lab's control folder, or None when no supervisor listens (an external setup)."""
    path = settings.LAB.get("CONTROL_DIR") or ""
    return Path(path) if path else None


def request(action: str) -> None:
    """Ask the supervisor for `action`; AlreadyRequested while one is under way."""
    base = folder()
    assert base is not None and action in ACTIONS
    base.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(base / f"{action}.request", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        raise AlreadyRequested(action) from None
    with os.fdopen(fd, "w") as file:
        file.write(str(time.time()))


def pending(base: Path) -> list[str]:
    return [a for a in ACTIONS if (base / f"{a}.request").exists()]


def under_way(action: str) -> bool:
    base = folder()
    return bool(base and (base / f"{action}.request").exists())


def finish(base: Path, action: str, result: dict) -> None:
    (base / f"{action}.done").write_text(json.dumps({"at": time.time(), **result}))
    (base / f"{action}.request").unlink(missing_ok=True)


def last(action: str) -> dict | None:
    """When `action` last finished, and how: {"at": epoch seconds, ...}."""
    base = folder()
    try:
        return json.loads((base / f"{action}.done").read_text()) if base else None
    except (OSError, ValueError):
        return None
