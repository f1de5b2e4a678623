"""Telling approvers that a gate opened (the execution manual: "it pauses and notifies
approvers"): an e-mail to each approver with an address, and the workflow's
`approval_notify` target (Slack or webhook) when its definition sets one.

Runs in a Celery task after the engine's transaction committed. A failed delivery is
logged and recorded on the request; it never fails the run."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.urls import reverse

from apps.approvals.models import ApprovalRequest, ApprovalStatus
from apps.approvals.selectors import approval_plan, approval_recipients
from apps.approvals.services import approval_notifications_record
from apps.notifications.senders import Delivery, post_json, send_email

logger = logging.getLogger(__name__)
PLAN_EXCERPT_CHARS = 2000


def approval_notice_send(*, approval_id: int) -> list[Delivery]:
    approval = ApprovalRequest.objects.select_related("instance", "organization", "requested_by").filter(
        pk=approval_id
    ).first()
    if approval is None or approval.status != ApprovalStatus.PENDING or approval.notifications:
        return []  # gone, already answered, or already told (a redelivered task)
    subject, body = _email(approval)
    deliveries = [send_email(to=[user.email], subject=subject, body=body) for user in approval_recipients(approval)]
    target = approval.instance.snapshot.get("approval_notify")
    if target:
        deliveries.append(_post(approval, target, subject))
    for delivery in deliveries:
        if not delivery.ok:
            logger.warning("approval %s: %s notice to %s failed: %s %s", approval.pk, delivery.channel,
                           delivery.recipients, delivery.error_class, delivery.error_message)
    if deliveries:
        approval_notifications_record(approval_id=approval.pk, deliveries=[d.as_dict() for d in deliveries])
    return deliveries


def _links(approval: ApprovalRequest) -> tuple[str, str]:
    base = settings.OPSFLOW_BASE_URL
    return base + reverse("approvals:detail", args=[approval.pk]), base + reverse("approvals:inbox")


def _email(approval: ApprovalRequest) -> tuple[str, str]:
    instance = approval.instance
    detail, inbox = _links(approval)
    subject = f"Approval needed: {instance.workflow_name} #{instance.pk}, step {approval.step_id}"
    requested_by = approval.requested_by.get_username() if approval.requested_by else "an automated start"
    lines = [
        f"{instance.workflow_name} run #{instance.pk} waits at step '{approval.step_id}' for approval.",
        "",
        f"Message: {approval.message or '-'}",
        f"Requested by: {requested_by}",
        f"Approvals required: {approval.required_approvals}",
    ]
    if approval.expires_at:
        lines.append(f"Expires: {approval.expires_at:%Y-%m-%d %H:%M} UTC (then {approval.on_timeout})")
    plan = approval_plan(approval)
    if plan is not None:
        lines += ["", f"Plan (output of step '{approval.plan_from}'):", _excerpt(plan)]
    lines += ["", f"Answer it: {detail}", f"Approvals inbox: {inbox}"]
    return subject, "\n".join(lines)


def _excerpt(plan: Any) -> str:
    text = plan if isinstance(plan, str) else json.dumps(plan, indent=2, ensure_ascii=False)
    if len(text) <= PLAN_EXCERPT_CHARS:
        return text
    return text[:PLAN_EXCERPT_CHARS] + f"\n... ({len(text) - PLAN_EXCERPT_CHARS} more characters in the inbox)"


def _post(approval: ApprovalRequest, target: dict[str, Any], subject: str) -> Delivery:
    detail, _ = _links(approval)
    if target.get("channel") == "slack":
        return post_json(channel="slack", url=target["url"], payload={"text": f"{subject}: {detail}"})
    payload = {
        "event": "approval.requested",
        "approval": approval.pk,
        "instance": approval.instance_id,
        "workflow": approval.instance.workflow_name,
        "step": approval.step_id,
        "message": approval.message,
        "approvers": approval.approvers,
        "required_approvals": approval.required_approvals,
        "url": detail,
    }
    return post_json(channel="webhook", url=target["url"], payload=payload, secret=target.get("secret") or "")
