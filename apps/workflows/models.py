"""Authoring: workflow definitions and their version history (DESIGN §4)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower

from apps.core.models import OrganizationOwned


class TriggerType(models.TextChoices):
    """How a definition is meant to be started; informational, never enforced."""

    MANUAL = "manual"
    ALERT_RULE = "alert_rule"
    MONITOR_ACTION = "monitor_action"
    SERVICE_REQUEST = "service_request"
    RUNBOOK = "runbook"
    SCHEDULE = "schedule"
    AUTOMATION_DECISION = "automation_decision"


class WorkflowDefinition(OrganizationOwned):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # The step list in the contract's format (DESIGN §4); validated by apps.workflows.validation.
    steps = models.JSONField(default=list, blank=True)
    # [{name, default?, description?, sensitive?, required?}]
    variables = models.JSONField(default=list, blank=True)
    start = models.CharField(max_length=100, blank=True)
    on_cancel = models.CharField(max_length=100, blank=True)
    default_timeout_seconds = models.PositiveIntegerField(null=True, blank=True)
    canary_percentage = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    canary_success_threshold = models.PositiveSmallIntegerField(
        default=80, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    trigger_type = models.CharField(max_length=30, choices=TriggerType.choices, default=TriggerType.MANUAL)
    hold_on_failure = models.BooleanField(default=False)
    # Where this workflow's approval requests are announced besides e-mail to the approvers:
    # {"channel": "slack"|"webhook", "url", "secret"?} or null (README "Approvals").
    approval_notify = models.JSONField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    is_published = models.BooleanField(default=False)
    is_template = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint("organization", Lower("name"), name="workflow_name_unique_per_org"),
        ]
        indexes = [
            models.Index(fields=["organization", "is_template"], name="workflow_org_template"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def step_count(self) -> int:
        return len(self.steps or [])


class WorkflowVersion(models.Model):
    """What a definition looked like after one save; written by the services on every change."""

    definition = models.ForeignKey(WorkflowDefinition, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    snapshot = models.JSONField()
    step_count = models.PositiveIntegerField(default=0)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["definition", "number"], name="workflow_version_unique_number"),
        ]

    def __str__(self) -> str:
        return f"{self.definition_id} v{self.number}"
