"""The lab's Django tasks: they run in the run workers (`manage.py db_worker`)."""

from __future__ import annotations

from django.tasks import task


@task()
def execute_run(run_id: int) -> None:
    from .runs import execute

    execute.execute(run_id)
