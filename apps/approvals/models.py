from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.models import OrganizationOwned


class ApprovalStatus(models.TextChoices):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"
    CANCELED = "canceled"


class ApprovalRequest(OrganizationOwned):
    instance = models.ForeignKey("engine.WorkflowInstance", on_delete=models.CASCADE, related_name="approvals")
    step_execution = models.ForeignKey("engine.StepExecution", on_delete=models.CASCADE, related_name="approvals")
    step_id = models.CharField(max_length=100)
    attempt = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=12, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING)
    message = models.TextField(blank=True)
    # Usernames and "group:<name>" entries as configured; empty = anyone with workflows.execute.
    approvers = models.JSONField(default=list, blank=True)
    required_approvals = models.PositiveIntegerField(default=1)
    allow_self_approval = models.BooleanField(default=False)
    plan_from = models.CharField(max_length=100, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    on_timeout = models.CharField(max_length=10, default="reject")
    resolved_at = models.DateTimeField(null=True, blank=True)
    # How the approvers were told the gate opened: one delivery per e-mail / target, with
    # its error when it failed (apps.notifications.approvals). Empty until sent.
    notifications = models.JSONField(default=list, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "status"], name="approval_org_status")]
        constraints = [
            models.UniqueConstraint(fields=["step_execution", "attempt"], name="approval_unique_step_attempt"),
        ]

    def __str__(self) -> str:
        return f"approval {self.pk} for {self.instance_id}:{self.step_id} ({self.status})"


class ApprovalResponse(models.Model):
    approval = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="responses")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approve = models.BooleanField()
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["approval", "actor"], name="approval_response_once")]

    def __str__(self) -> str:
        return f"{'approve' if self.approve else 'reject'} by {self.actor_id}"
