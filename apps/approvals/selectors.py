"""Org-scoped reads of approval requests."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from apps.accounts.models import Organization
from apps.approvals.models import ApprovalRequest, ApprovalResponse, ApprovalStatus
from apps.approvals.rules import GROUP_PREFIX, eligible_q, is_eligible, is_self_approval
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


def approval_recipients(approval: ApprovalRequest) -> list[Any]:
    """Who is e-mailed when the gate opens: members of its organization with an address who
    may answer it (rules.is_eligible: listed users and `group:` members holding
    workflows.execute, or every member holding it when none are listed). Admins who are not
    listed may answer but are not addressed, and the one who started the run is left out
    when the gate refuses self-approval (they could only reject)."""
    members = get_user_model().objects.filter(
        memberships__organization_id=approval.organization_id, is_active=True
    ).exclude(email="")
    if approval.approvers:
        names = [entry for entry in approval.approvers if not entry.startswith(GROUP_PREFIX)]
        groups = [entry[len(GROUP_PREFIX):] for entry in approval.approvers if entry.startswith(GROUP_PREFIX)]
        members = members.filter(Q(username__in=names) | Q(groups__name__in=groups))
    organization = approval.organization
    return [
        user for user in members.distinct().order_by("username")
        if is_eligible(approval, user, organization) and not is_self_approval(approval, user)
    ]


def approval_plan(approval: ApprovalRequest) -> Any:
    """The output of the gate's `plan_from` step in the same instance (None if it has none)."""
    if not approval.plan_from:
        return None
    return (
        StepExecution.objects.filter(instance_id=approval.instance_id, step_id=approval.plan_from)
        .values_list("output", flat=True)
        .first()
    )
