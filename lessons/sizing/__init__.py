"""The sizing calculator: the most PostgreSQL connections a deployment can open.

A learner describes a deployment (app instances x gunicorn workers x threads, a strategy
and its sizes, PgBouncers in front). `parse` validates it field by field (BadInput names
the field); `calculate` multiplies it out the way the registry says each strategy holds
connections, sets the total against what PostgreSQL lets ordinary roles open, says in
plain words what to change, and writes the files that run it.

    answer = sizing.size(request.GET, max_connections=lab.server_facts()["max_connections"])
"""

from .deployment import Deployment, known_fields, parse, strategy_fields
from .totals import calculate, size

__all__ = ["Deployment", "calculate", "known_fields", "parse", "size", "strategy_fields"]
