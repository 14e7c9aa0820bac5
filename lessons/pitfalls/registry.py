"""The registry of transaction-pooling pitfalls: each is listed once, with its fix and how
it is played. Lesson 7 (pgbouncer-pitfalls) embeds each one as a demo."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..boundary import NotFound
from . import advisory, cursor, listen, options, prepared, session_set
from .cycle import Seen
from .paths import ALL_VIAS, VIAS, Path, Tweak

LESSON = "pgbouncer-pitfalls"


def _untouched(entry: dict[str, Any], fix: bool) -> None:
    """The pitfall's client uses the path's settings as they are."""


@dataclass(frozen=True)
class Pitfall:
    slug: str
    title: str
    # What `fix: true` changes, in one sentence.
    fix: str
    play: Callable[[Path, bool], Seen]
    # PgBouncer's pool size for this pitfall (per mode): 1 unless another client must
    # hold a server connection while the pitfall's client goes on.
    session_pool: int = 1
    transaction_pool: int = 1
    # The settings the pitfall (and its fix) give the pitfall's client.
    tweak: Tweak = _untouched
    lesson: str = LESSON

    def pgbouncer_pool(self, via: str) -> int:
        return self.transaction_pool if via == "pgbouncer-transaction" else self.session_pool

    def describe(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "title": self.title,
            "lesson": self.lesson,
            "fix": self.fix,
            "vias": list(VIAS),
        }


PITFALLS: dict[str, Pitfall] = {
    p.slug: p
    for p in [
        Pitfall(
            "server-side-cursor",
            ".iterator() on a server-side cursor",
            "DISABLE_SERVER_SIDE_CURSORS = True: the driver fetches the rows without a "
            "server-side cursor.",
            cursor.play,
            session_pool=2,
            transaction_pool=2,
            tweak=cursor.tweak,
        ),
        Pitfall(
            "session-set",
            "A SET in one request, read in the next",
            "SET LOCAL inside transaction.atomic(): the setting ends with the transaction.",
            session_set.play,
        ),
        Pitfall(
            "prepared-statements",
            "Prepared statements on a rotating backend",
            "Django's default prepare_threshold = None: psycopg prepares nothing.",
            prepared.play,
            session_pool=2,
            transaction_pool=2,
            tweak=prepared.tweak,
        ),
        Pitfall(
            "advisory-lock",
            "A session-level advisory lock",
            "pg_advisory_xact_lock() inside transaction.atomic(): the lock belongs to the "
            "transaction.",
            advisory.play,
            session_pool=2,
            transaction_pool=2,
        ),
        Pitfall(
            "listen",
            "LISTEN through transaction pooling",
            "The listener has a dedicated connection straight to PostgreSQL.",
            listen.play,
            session_pool=2,
        ),
        Pitfall(
            "startup-options",
            'OPTIONS = {"options": "-c statement_timeout=5000"}',
            "No options startup parameter: SET LOCAL inside transaction.atomic() instead.",
            options.play,
            tweak=options.tweak,
        ),
    ]
}


class UnknownPitfall(NotFound):
    def __init__(self, slug: str) -> None:
        super().__init__(f"there is no pitfall {slug!r}", field="pitfall", allowed=sorted(PITFALLS))


def get(slug: str) -> Pitfall:
    try:
        return PITFALLS[slug]
    except (KeyError, TypeError):
        raise UnknownPitfall(str(slug)) from None


def ordered(vias: list[str]) -> list[str]:
    """Vias in the lesson's order (no-pool, native-pool, pgbouncer-session,
    pgbouncer-transaction), then the others."""
    return [via for via in ALL_VIAS if via in vias]
