"""What the lab keeps: learners, their runs, and the monitor's samples."""

from __future__ import annotations

from django.db import models


class Learner(models.Model):
    """A learner's own lab, made the first time they do something worth remembering.

    Only its key lives in the session; progress and the epochs of the learner's demo
    configurations live here, so that a restart of anything loses none of it.
    """

    key = models.CharField(max_length=32, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(auto_now_add=True, db_index=True)
    progress = models.JSONField(default=dict)
    # "Reset my lab" bumps `epoch`; a fresh run bumps its configuration's entry in
    # `epochs`. Either makes the demo servers use new connections for it.
    epoch = models.PositiveIntegerField(default=0)
    epochs = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"learner {self.tag}"

    @property
    def tag(self) -> str:
        """The short name that marks this learner's connections (application_name)."""
        return self.key[:8]


class Run(models.Model):
    """A bounded piece of work on the demo servers, queued fairly and stored."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class Kind(models.TextChoices):
        RUN = "run"  # probes against a demo server
        PITFALL = "pitfall"  # a transaction-pooling pitfall played out for real
        BENCHMARK = "benchmark"  # the same load against every strategy in turn

    FINISHED = (Status.DONE, Status.FAILED, Status.CANCELLED)

    learner = models.ForeignKey(
        Learner, null=True, blank=True, on_delete=models.CASCADE, related_name="runs"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.RUN)
    strategy = models.CharField(max_length=40, blank=True)
    params = models.JSONField(default=dict)
    # Anything else a kind needs (a pitfall's via and fix, a benchmark's strategies).
    spec = models.JSONField(default=dict)
    server = models.CharField(max_length=4, default="wsgi")
    requests = models.PositiveIntegerField(default=0)
    concurrency = models.PositiveIntegerField(default=1)
    hold_ms = models.PositiveIntegerField(default=0)
    work_ms = models.PositiveIntegerField(default=0)
    fresh = models.BooleanField(default=False)
    # Which generation of the learner's connections for this configuration it uses.
    epoch = models.CharField(max_length=32, blank=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    # Set when the queue hands the run to a worker; a run counts as active from then on.
    dispatched = models.DateTimeField(null=True, blank=True)
    started = models.DateTimeField(null=True, blank=True)
    # Written with every progress update: a run whose heartbeat stops had its worker die.
    heartbeat = models.DateTimeField(null=True, blank=True)
    position = models.PositiveIntegerField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    done = models.PositiveIntegerField(default=0)
    results = models.JSONField(default=list)
    summary = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["learner", "-id"])]

    def __str__(self) -> str:
        return f"run {self.pk}: {self.kind} {self.strategy} x{self.requests}"

    @property
    def params_text(self) -> str:
        return ", ".join(f"{k}={'none' if v is None else v}" for k, v in self.params.items())

    @property
    def finished_running(self) -> bool:
        return self.status in self.FINISHED

    @property
    def hold_seconds(self) -> float:
        """The least time the run keeps the demo server busy."""
        return self.requests * (self.hold_ms + self.work_ms) / 1000 / max(1, self.concurrency)


class MonitorSample(models.Model):
    """One look at pg_stat_activity (and PgBouncer), taken at most once a second."""

    at = models.DateTimeField(db_index=True)
    # {"all": {slug: n}, "by_owner": {tag: {slug: n}}}: what the chart needs, kept small.
    counts = models.JSONField()
    # pg_stat_activity's demo rows and PgBouncer's pools, clients and servers: read for the
    # newest sample only.
    rows = models.JSONField()
    pgbouncer = models.JSONField(null=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"sample at {self.at:%H:%M:%S}"


class Room(models.Model):
    """The room's own switches, set by its instructor (one row)."""

    paused = models.BooleanField(default=False)
    changed = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return "room (runs paused)" if self.paused else "room"
