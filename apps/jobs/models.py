"""A Job is one host x one attempt of one fan-out step; its output is LogLine rows."""

from __future__ import annotations

from django.db import models

from apps.core.models import TimeStampedModel


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELED = "canceled"


JOB_DONE = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.TIMEOUT, JobStatus.CANCELED})
JOB_ACTIVE = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})
# Processes of the job may still be running: its worker still supervises it, or it started
# processes and nobody verified that none of them is left (its worker died, or a process
# outlived SIGKILL). A force cancel ends the instance while its jobs are in the first case;
# a kill (also allowed on a `canceled` instance with live jobs, DESIGN §6) waits for them.
def job_live(prefix: str = "") -> models.Q:
    """JOB_LIVE through a relation (`prefix`, e.g. "jobs__" for a count per step)."""
    return models.Q(**{f"{prefix}status": JobStatus.RUNNING}) | models.Q(
        **{f"{prefix}pgid__isnull": False, f"{prefix}verified_stopped_at__isnull": True}
    )


JOB_LIVE = job_live()


class StopRequest(models.TextChoices):
    NONE = "", "none"
    TERM = "term", "SIGTERM"
    KILL = "kill", "SIGTERM, then SIGKILL"


class Job(TimeStampedModel):
    instance = models.ForeignKey("engine.WorkflowInstance", on_delete=models.CASCADE, related_name="jobs")
    step_execution = models.ForeignKey("engine.StepExecution", on_delete=models.CASCADE, related_name="jobs")
    step_id = models.CharField(max_length=100)
    attempt = models.PositiveIntegerField(default=1)
    host_id = models.BigIntegerField(null=True, blank=True)
    hostname = models.CharField(max_length=255)
    # Host context as it was at start (hostname, primary_ip, os, connection, port, vars).
    host = models.JSONField(default=dict)
    is_canary = models.BooleanField(default=False)
    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED)
    exit_code = models.IntegerField(null=True, blank=True)
    error_class = models.CharField(max_length=50, blank=True)
    error_message = models.TextField(blank=True)
    output = models.JSONField(null=True, blank=True)
    timeout_seconds = models.PositiveIntegerField(null=True, blank=True)
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    # The machine (host name) of the worker that claimed the job, and that worker's pid:
    # a jobs worker on the same machine can tell that the job's worker is gone.
    machine = models.CharField(max_length=255, blank=True, default="")
    pid = models.IntegerField(null=True, blank=True)
    # The job's process group on the worker's machine (local executor), once started.
    pgid = models.IntegerField(null=True, blank=True)
    # When the executor verified that no process of the job is left; null while it may run.
    verified_stopped_at = models.DateTimeField(null=True, blank=True)
    stop_request = models.CharField(max_length=8, choices=StopRequest.choices, blank=True, default="")
    log_bytes = models.BigIntegerField(default=0)
    log_truncated = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["step_execution", "status"], name="job_step_status"),
            models.Index(fields=["status", "heartbeat_at"], name="job_status_heartbeat"),
            models.Index(fields=["instance", "status"], name="job_instance_status"),
            # job_claim takes the oldest queued job of a step; without this the scan grows
            # with every finished job of a 10,000-host step.
            models.Index(
                fields=["step_execution", "id"], condition=models.Q(status="queued"), name="job_queued_claim"
            ),
        ]

    def __str__(self) -> str:
        return f"job {self.pk} {self.step_id}@{self.hostname} ({self.status})"

    @property
    def may_be_running(self) -> bool:
        """The row-level JOB_LIVE."""
        return self.status == JobStatus.RUNNING or (self.pgid is not None and self.verified_stopped_at is None)

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class LogStream(models.TextChoices):
    STDOUT = "stdout"
    STDERR = "stderr"
    SYSTEM = "system"


class LogLine(models.Model):
    """One line of output. `seq` increases per instance in commit order (see
    apps.jobs.logs.log_append), so a reader that saw seq N has seen every line <= N."""

    # The log is the busiest table: no database foreign keys and no single-column indexes
    # here, each would cost every stored line a trigger or an index insert (about 40% of
    # Postgres's time per line, bench/logs.py). (instance, seq) is unique and indexed;
    # the lines go with their instance (Django cascades); a job's lines are never read
    # through the job.
    instance = models.ForeignKey(
        "engine.WorkflowInstance", on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    seq = models.BigIntegerField()
    job = models.ForeignKey(
        Job, on_delete=models.DO_NOTHING, null=True, blank=True, related_name="lines", db_constraint=False,
        db_index=False,
    )
    step_id = models.CharField(max_length=100, blank=True)
    host = models.CharField(max_length=255, blank=True)
    stream = models.CharField(max_length=8, choices=LogStream.choices)
    ts = models.DateTimeField()
    line = models.TextField()

    class Meta:
        ordering = ["instance_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["instance", "seq"], name="logline_unique_seq")]
        indexes = [models.Index(fields=["instance", "step_id", "seq"], name="logline_step_seq")]

    def __str__(self) -> str:
        return f"{self.instance_id}#{self.seq} {self.line[:60]}"


class LogCursor(models.Model):
    """The last seq handed out per instance; its row lock serializes appends so that
    seq order is commit order."""

    instance = models.OneToOneField("engine.WorkflowInstance", on_delete=models.CASCADE, primary_key=True)
    last_seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.instance_id}: {self.last_seq}"
