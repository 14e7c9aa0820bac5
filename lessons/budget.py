"""The connection budget: what all demo connections together may hold."""

from __future__ import annotations

from . import lab
from .strategies import Params, Strategy


class OverBudget(RuntimeError):
    """A choice that could open more connections than the lab allows (HTTP 409)."""

    def __init__(self, message: str, field: str, allowed: int) -> None:
        super().__init__(message)
        self.field = field
        self.allowed = allowed

    def as_json(self) -> dict:
        return {"error": str(self), "field": self.field, "allowed": self.allowed}


def share_per_worker() -> int:
    """Each demo worker process keeps its own aliases inside an equal share."""
    return max(1, lab.connection_budget() // lab.wsgi_workers())


def check_choice(strategy: Strategy, params: Params) -> None:
    """Refuse parameters that alone could break the budget."""
    per_worker = strategy.per_process_max(params)
    share = share_per_worker()
    if per_worker <= share:
        return
    workers = lab.wsgi_workers()
    raise OverBudget(
        f"{strategy.title} with these settings could open {per_worker} connections in each of "
        f"{workers} worker processes ({per_worker * workers} in all), past the lab's connection "
        f"budget of {lab.connection_budget()} ({share} per worker). Choose smaller sizes.",
        field=strategy.size_param or "strategy",
        allowed=share,
    )
