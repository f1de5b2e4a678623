"""Execution state. The database is the source of truth (DESIGN §3): every step, timer
and job is a row, and Celery messages are only hints to look at them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.models import OrganizationOwned, TimeStampedModel
from apps.engine.states import InstanceStatus, PauseReason, StepStatus


class Trigger(models.TextChoices):
    MANUAL = "manual"
    API = "api"
    SCHEDULE = "schedule"
    WEBHOOK = "webhook"
    ALERT = "alert"
    PARENT = "parent"
    RERUN = "rerun"


class WorkflowInstance(OrganizationOwned):
    definition = models.ForeignKey(
        "workflows.WorkflowDefinition", on_delete=models.SET_NULL, null=True, blank=True, related_name="instances"
    )
    workflow_name = models.CharField(max_length=200)
    version_number = models.PositiveIntegerField(default=0)
    # The definition as it was at start; later edits never change a running instance.
    snapshot = models.JSONField()
    status = models.CharField(max_length=20, choices=InstanceStatus.choices, default=InstanceStatus.PENDING)
    pause_reason = models.CharField(max_length=20, choices=PauseReason.choices, blank=True)
    status_message = models.CharField(max_length=500, blank=True)
    error_class = models.CharField(max_length=50, blank=True)
    error_message = models.TextField(blank=True)
    # Plain variables; sensitive values live encrypted in `sensitive_variables`.
    variables = models.JSONField(default=dict, blank=True)
    sensitive_variables = models.TextField(blank=True)
    # Target hosts expanded at start: [{id, hostname, primary_ip, os, connection, port, vars}].
    targets = models.JSONField(default=list, blank=True)
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.MANUAL)
    trigger_data = models.JSONField(default=dict, blank=True)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="children")
    parent_step = models.ForeignKey(
        "engine.StepExecution", on_delete=models.SET_NULL, null=True, blank=True, related_name="child_instances"
    )
    batch_index = models.PositiveIntegerField(null=True, blank=True)
    rerun_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="reruns")
    scheduled_for = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    timeout_at = models.DateTimeField(null=True, blank=True)
    # When a person (or the parent run) last asked this run to go: its creation, or a retry
    # of the whole instance. Only kill switch engagements after this moment stop it; a run
    # started (or retried) while the switch is on is a manual run and runs (DESIGN §6).
    requested_at = models.DateTimeField(default=timezone.now)
    cancel_cleanup = models.BooleanField(default=False)
    # Paused because its parent was: resuming the parent resumes it (a child paused on
    # its own stays paused).
    paused_by_parent = models.BooleanField(default=False)
    # Bumped by every advance pass that changed something; the sweeper re-advances
    # active instances whose last progress is old (a lost Celery message).
    progressed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "status"], name="instance_org_status"),
            models.Index(fields=["organization", "-created_at"], name="instance_org_created"),
            models.Index(fields=["status", "progressed_at"], name="instance_status_progress"),
        ]

    def __str__(self) -> str:
        return f"{self.workflow_name} #{self.pk}"


class StepExecution(TimeStampedModel):
    """One step of one instance. Each step runs at most once per instance (the graph has
    no cycles); retries bump `attempt` on the same row and jobs keep their attempt."""

    instance = models.ForeignKey(WorkflowInstance, on_delete=models.CASCADE, related_name="steps")
    step_id = models.CharField(max_length=100)
    step_type = models.CharField(max_length=30)
    status = models.CharField(max_length=20, choices=StepStatus.choices, default=StepStatus.PENDING)
    attempt = models.PositiveIntegerField(default=0)
    # The parallel step whose branch this step runs in, and that branch's first step.
    parallel_id = models.CharField(max_length=100, blank=True)
    branch = models.CharField(max_length=100, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error_class = models.CharField(max_length=50, blank=True)
    error_message = models.TextField(blank=True)
    # `output` is what templates see as steps.<id>.output; `result` is the engine's
    # record of what happened (hosts, canary, branch taken, approval, ...).
    output = models.JSONField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    next_step = models.CharField(max_length=100, blank=True)
    # Why a `waiting` step waits (a PauseReason); the instance shows it as pause_reason.
    wait_reason = models.CharField(max_length=20, choices=PauseReason.choices, blank=True)
    # Reused from an earlier instance by a re-run (results kept, not executed again).
    reused_from = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["instance_id", "id"]
        constraints = [models.UniqueConstraint(fields=["instance", "step_id"], name="step_unique_per_instance")]
        indexes = [models.Index(fields=["instance", "status"], name="step_instance_status")]

    def __str__(self) -> str:
        return f"{self.instance_id}:{self.step_id} ({self.status})"


class TimerKind(models.TextChoices):
    START = "start"
    DELAY = "delay"
    RETRY = "retry"
    APPROVAL_TIMEOUT = "approval_timeout"
    WORKFLOW_TIMEOUT = "workflow_timeout"
    PAM_EXPIRY = "pam_expiry"
    KILL_ESCALATE = "kill_escalate"


class Timer(models.Model):
    """A wait that must survive any lost message: the beat sweeper fires due rows."""

    instance = models.ForeignKey(WorkflowInstance, on_delete=models.CASCADE, related_name="timers")
    step = models.ForeignKey(StepExecution, on_delete=models.CASCADE, null=True, blank=True, related_name="timers")
    kind = models.CharField(max_length=20, choices=TimerKind.choices)
    due_at = models.DateTimeField()
    fired_at = models.DateTimeField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["due_at"], name="timer_due_unfired", condition=models.Q(fired_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.instance_id} at {self.due_at:%H:%M:%S}"


class PamSession(TimeStampedModel):
    """A checkout of a vault credential by one instance; closed however the run ends."""

    instance = models.ForeignKey(WorkflowInstance, on_delete=models.CASCADE, related_name="pam_sessions")
    step_id = models.CharField(max_length=100)
    credential = models.ForeignKey("credentials.Credential", on_delete=models.PROTECT, related_name="sessions")
    alias = models.CharField(max_length=100)
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["instance", "closed_at"], name="pam_instance_open")]

    def __str__(self) -> str:
        return f"{self.alias} ({self.credential_id}) for {self.instance_id}"


def may_have(instance: WorkflowInstance, step_type: str) -> bool:
    """Can the instance have rows that only a `step_type` step creates (PAM sessions for
    pam_checkout, approval requests for approval)? Not if its frozen definition has no such
    step: a query less on every ending and every job of most workflows."""
    steps = (instance.snapshot or {}).get("steps")
    return steps is None or any(spec.get("type") == step_type for spec in steps)
