"""Transaction-pooling pitfalls, each played out for real on every connection path.

`registry` lists them; `runner` plays them in a run worker (a run of kind `pitfall`);
`create` starts such a run for the API and the lesson's demo; `present` shows it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..models import Run


def execute(run: Run) -> None:
    """The run worker's entry point for a pitfall run (lessons.runs.execute.EXECUTORS)."""
    from .runner import execute as play_run

    play_run(run)
