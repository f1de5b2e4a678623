"""Approval requests: created by approval steps, answered by people, timed out by timers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from apps.approvals.models import ApprovalRequest, ApprovalStatus
from apps.engine.models import StepExecution, WorkflowInstance


def approval_create(
    *, instance: WorkflowInstance, step: StepExecution, config: dict[str, Any], message: str
) -> ApprovalRequest:
    """Called by the approval step inside advance (instance locked). One request per attempt."""
    timeout = config.get("timeout_seconds")
    approval, _ = ApprovalRequest.objects.get_or_create(
        step_execution=step,
        attempt=step.attempt,
        defaults={
            "organization_id": instance.organization_id,
            "instance": instance,
            "step_id": step.step_id,
            "message": message,
            "approvers": list(config.get("approvers") or []),
            "required_approvals": int(config.get("required_approvals") or 1),
            "allow_self_approval": bool(config.get("allow_self_approval", False)),
            "plan_from": config.get("plan_from") or "",
            "on_timeout": config.get("on_timeout") or "reject",
            "expires_at": timezone.now() + timedelta(seconds=int(timeout)) if timeout else None,
            "requested_by": instance.triggered_by,
        },
    )
    return approval


def approval_for_step(step: StepExecution) -> ApprovalRequest | None:
    return ApprovalRequest.objects.filter(step_execution=step, attempt=step.attempt).first()


def approvals_cancel_for_instance(*, instance: WorkflowInstance) -> int:
    now = timezone.now()
    return ApprovalRequest.objects.filter(instance=instance, status=ApprovalStatus.PENDING).update(
        status=ApprovalStatus.CANCELED, resolved_at=now, updated_at=now
    )


def approval_cancel_for_step(*, step: StepExecution) -> int:
    now = timezone.now()
    return ApprovalRequest.objects.filter(step_execution=step, status=ApprovalStatus.PENDING).update(
        status=ApprovalStatus.CANCELED, resolved_at=now, updated_at=now
    )


def approval_time_out(*, approval_id: int) -> bool:
    """Mark a pending request timed out (the instance is locked by the timer service)."""
    approval = ApprovalRequest.objects.select_for_update().filter(pk=approval_id).first()
    if approval is None or approval.status != ApprovalStatus.PENDING:
        return False
    approval.status = ApprovalStatus.TIMED_OUT
    approval.resolved_at = timezone.now()
    approval.save(update_fields=["status", "resolved_at", "updated_at"])
    return True
