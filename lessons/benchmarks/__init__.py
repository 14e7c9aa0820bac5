"""The benchmark lab: the same bounded load against every available strategy in turn.

A benchmark is a run of kind `benchmark`: asked for (`spec.create`), queued fairly as the
learner's run, executed by a run worker (`engine.execute`, through `manage.py bench`'s
engine), and shown as charts (`present`, `charts`) that compare strategies, and
benchmarks with each other.
"""

from .engine import execute

__all__ = ["execute"]
