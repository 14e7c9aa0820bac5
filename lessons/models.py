from django.db import models


class Run(models.Model):
    """A bounded load of probes against the demo server, stored to compare later."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    strategy = models.CharField(max_length=40)
    params = models.JSONField(default=dict)
    requests = models.PositiveIntegerField()
    concurrency = models.PositiveIntegerField()
    hold_ms = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    done = models.PositiveIntegerField(default=0)
    results = models.JSONField(default=list)
    summary = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"run {self.pk}: {self.strategy} x{self.requests}"

    @property
    def params_text(self) -> str:
        return ", ".join(f"{k}={'none' if v is None else v}" for k, v in self.params.items())

    @property
    def finished_running(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.FAILED}
