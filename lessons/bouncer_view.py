"""PgBouncer at a glance: Django's client connections on the left, PgBouncer's server
connections on the right, a line for each client that holds a server right now.

Drawn from the monitor's newest sample (taken at most once a second), as server-rendered
SVG: the page polls it, nothing is drawn in the browser.
"""

from __future__ import annotations

from typing import Any

from .services.pgbouncer_config import parse_database

ROW = 22
WIDTH = 560
LEFT_X, RIGHT_X = 150, 410
MAX_ROWS = 24  # past this, the picture says how many more there are


def _label(database: str) -> str:
    parsed = parse_database(database)
    return f"{parsed[0]}, pool {parsed[1]}" if parsed else database


def picture(view: dict[str, Any] | None, owner: str | None = None) -> dict[str, Any]:
    """Rows and lines for the SVG; `owner` marks the learner's own client connections."""
    if not view or view.get("down"):
        return {"down": (view or {}).get("down"), "pools": [], "clients": [], "servers": []}
    clients = view["clients"][:MAX_ROWS]
    servers = view["servers"][:MAX_ROWS]
    server_y = {}
    drawn_servers = []
    for index, server in enumerate(servers):
        y = 30 + index * ROW
        server_y[server["ptr"]] = y
        drawn_servers.append({**server, "y": y, "label": _label(server["database"])})
    drawn_clients, lines = [], []
    for index, client in enumerate(clients):
        y = 30 + index * ROW
        mine = bool(owner) and str(client.get("application_name", "")).endswith(f":{owner}")
        drawn_clients.append({**client, "y": y, "mine": mine, "label": _label(client["database"])})
        if client.get("link") in server_y:
            lines.append({"y1": y, "y2": server_y[client["link"]], "mine": mine})
    rows = max(len(clients), len(servers), 1)
    return {
        "down": None,
        "width": WIDTH,
        "height": 40 + rows * ROW,
        "left_x": LEFT_X,
        "right_x": RIGHT_X,
        "clients": drawn_clients,
        "servers": drawn_servers,
        "lines": lines,
        "more_clients": max(0, len(view["clients"]) - MAX_ROWS),
        "more_servers": max(0, len(view["servers"]) - MAX_ROWS),
        "pools": [
            {**pool, "label": _label(pool["database"])}
            for pool in view["pools"]
            if pool["cl_active"]
            or pool["cl_waiting"]
            or pool["sv_active"]
            or pool["sv_idle"]
            or pool["sv_used"]
        ],
    }
