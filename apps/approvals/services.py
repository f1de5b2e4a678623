"""Approval requests: created by approval steps, answered by people, timed out by timers."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

from celery import current_app
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Organization
from apps.approvals.models import ApprovalRequest, ApprovalStatus
from apps.approvals.rules import respond_refusal
from apps.audit.services import audit_record
from apps.core import wake
from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.engine.locks import instance_lock, step_lock_by_id
from apps.engine.models import StepExecution, WorkflowInstance

# Sent by name: the notifications app reads approvals, so approvals does not import it.
APPROVAL_NOTIFY_TASK = "apps.notifications.tasks.approval_notify"


def approval_create(
    *, instance: WorkflowInstance, step: StepExecution, config: dict[str, Any], message: str
) -> ApprovalRequest:
    """Called by the approval step inside advance (instance locked). One request per attempt;
    its approvers are told after the commit, never inside the engine's transaction."""
    timeout = config.get("timeout_seconds")
    approval, created = ApprovalRequest.objects.get_or_create(
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
    if created:  # robust: a broker hiccup costs the notice, never the engine's pass
        transaction.on_commit(partial(current_app.send_task, APPROVAL_NOTIFY_TASK, args=[approval.pk]), robust=True)
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


def approval_notifications_record(*, approval_id: int, deliveries: list[dict[str, Any]]) -> bool:
    """Record how the approvers were told (once: a redelivered task finds them recorded)."""
    with transaction.atomic():
        approval = ApprovalRequest.objects.select_for_update().filter(pk=approval_id).first()
        if approval is None or approval.notifications:
            return False
        approval.notifications = deliveries
        approval.save(update_fields=["notifications", "updated_at"])
    return True


def _approval_lock(*, approval_id: int, organization: Organization) -> ApprovalRequest:
    """Lock in the documented order: instance -> step execution -> approval."""
    row = ApprovalRequest.objects.filter(pk=approval_id, organization=organization).values(
        "instance_id", "step_execution_id"
    ).first()
    if row is None:
        raise NotFound("Approval request not found.")
    instance = instance_lock(instance_id=row["instance_id"], organization_id=organization.pk)
    step_lock_by_id(row["step_execution_id"])
    approval = ApprovalRequest.objects.select_for_update().get(pk=approval_id)
    approval.instance = instance
    return approval


def _outcome(approval: ApprovalRequest) -> str | None:
    """Any reject resolves the request; N distinct approvers approve it."""
    answers = list(approval.responses.values_list("approve", flat=True))
    if not all(answers):
        return ApprovalStatus.REJECTED
    if len(answers) >= approval.required_approvals:
        return ApprovalStatus.APPROVED
    return None


@transaction.atomic
def approval_respond(
    *, approval_id: int, actor: Any, organization: Organization, approve: bool, comment: str = ""
) -> ApprovalRequest:
    comment = (comment or "").strip()
    if not approve and not comment:
        raise InvalidInput("A comment is required to reject.", code="comment_required")
    approval = _approval_lock(approval_id=approval_id, organization=organization)
    earlier = approval.responses.filter(actor_id=actor.pk).first()
    if earlier is not None and earlier.approve == approve:
        return approval  # a double click: the first answer already counted
    if approval.status != ApprovalStatus.PENDING:
        raise Conflict(f"Approval {approval.pk} is already {approval.status}.", code="approval_resolved")
    if earlier is not None:
        raise Conflict("You already answered this request; an answer cannot be changed.",
                       code="already_responded")
    refusal = respond_refusal(approval, actor, organization, approve=approve)
    if refusal is not None:
        raise refusal
    approval.responses.create(actor=actor, approve=approve, comment=comment)
    outcome = _outcome(approval)
    if outcome is not None:
        approval.status = outcome
        approval.resolved_at = timezone.now()
        approval.save(update_fields=["status", "resolved_at", "updated_at"])
    audit_record(actor=actor, action="approval.respond", target=approval, organization=organization,
                 data={"approve": approve, "comment": comment, "instance": approval.instance_id,
                       "step": approval.step_id, "status": approval.status})
    if outcome is not None:
        wake.instance_wake(approval.instance_id)
    return approval
