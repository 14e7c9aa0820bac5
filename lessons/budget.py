"""The connection budget: what all demo connections together may hold, slice by slice."""

from __future__ import annotations

from . import lab
from .boundary import Conflict
from .strategies import Params, Strategy


class OverBudget(Conflict):
    """A choice that alone could open more connections than the lab allows."""


def workers(server: str) -> int:
    return lab.config()["ASGI_WORKERS" if server == "asgi" else "WSGI_WORKERS"]


def share_per_worker(server: str | None = None) -> int:
    """Each demo worker process keeps its own aliases inside an equal share of its slice."""
    server = server or lab.demo_server()
    return max(1, lab.budget_slices()[server] // workers(server))


def check_choice(strategy: Strategy, params: Params, server: str = "wsgi") -> None:
    """Refuse parameters that alone could break the budget."""
    if strategy.pgbouncer_mode:
        size, limit = params["pool_size"], lab.budget_slices()["pgbouncer"]
        if size <= limit:
            return
        raise OverBudget(
            f"PgBouncer's pool of {size} would pass its slice of the lab's connection budget "
            f"({limit} server connections). Choose a smaller pool_size.",
            field="pool_size",
            allowed=limit,
        )
    per_worker = strategy.per_process_max(params)
    share = share_per_worker(server)
    if per_worker <= share:
        return
    count = workers(server)
    raise OverBudget(
        f"{strategy.title} with these settings could open {per_worker} connections in each of "
        f"{count} worker processes ({per_worker * count} in all), past the {server.upper()} "
        f"demo server's slice of the connection budget ({share} per worker). "
        "Choose smaller sizes.",
        field=strategy.size_param or "strategy",
        allowed=share,
    )
