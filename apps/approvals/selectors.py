"""Org-scoped reads of approval requests."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, QuerySet

from apps.accounts.models import Organization
from apps.approvals.models import ApprovalRequest, ApprovalResponse, ApprovalStatus
from apps.approvals.rules import eligible_q
from apps.engine.models import StepExecution


def approvals_list(*, organization: Organization) -> QuerySet[ApprovalRequest]:
    responses = ApprovalResponse.objects.select_related("actor").order_by("created_at", "id")
    return (
        ApprovalRequest.objects.filter(organization=organization)
        .select_related("instance", "requested_by")
        .prefetch_related(Prefetch("responses", queryset=responses))
    )


def approvals_respondable(
    queryset: QuerySet[ApprovalRequest], *, user: Any, organization: Organization
) -> QuerySet[ApprovalRequest]:
    """Pending requests `user` may answer and has not answered yet (`mine=true`)."""
    answered = ApprovalResponse.objects.filter(approval=OuterRef("pk"), actor_id=user.pk)
    return queryset.filter(eligible_q(user, organization), status=ApprovalStatus.PENDING).exclude(Exists(answered))


def approvals_awaiting_count(*, user: Any, organization: Organization) -> int:
    """How many pending requests wait for `user`'s answer: the inbox's default view."""
    return approvals_respondable(
        ApprovalRequest.objects.filter(organization=organization), user=user, organization=organization
    ).count()


def approval_plan(approval: ApprovalRequest) -> Any:
    """The output of the gate's `plan_from` step in the same instance (None if it has none)."""
    if not approval.plan_from:
        return None
    return (
        StepExecution.objects.filter(instance_id=approval.instance_id, step_id=approval.plan_from)
        .values_list("output", flat=True)
        .first()
    )
