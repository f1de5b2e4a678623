"""Who may answer an approval request (DESIGN §6, §7). One place decides, so the service,
the `mine` filter and the `can_approve` / `can_reject` flags never disagree."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Q

from apps.accounts.models import Organization
from apps.accounts.roles import Perm
from apps.accounts.selectors import role_for, user_has_perm, user_is_org_admin
from apps.approvals.models import ApprovalRequest, ApprovalStatus
from apps.core.errors import ApplicationError, PermissionDenied

GROUP_PREFIX = "group:"


def user_group_names(user: Any) -> frozenset[str]:
    cached = getattr(user, "_opsflow_group_names", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True)) if user.is_authenticated else frozenset()
        user._opsflow_group_names = cached
    return cached


def _is_listed(approvers: list[str], user: Any) -> bool:
    if user.get_username() in approvers:
        return True
    groups = user_group_names(user)
    return any(entry.startswith(GROUP_PREFIX) and entry[len(GROUP_PREFIX):] in groups for entry in approvers)


def may_answer_approvals(user: Any, organization: Organization) -> bool:
    """Responding to approvals needs workflows.execute, listed or not (admins hold it)."""
    return user_has_perm(user=user, organization=organization, perm=Perm.WORKFLOWS_EXECUTE)


def is_eligible(approval: ApprovalRequest, user: Any, organization: Organization) -> bool:
    """Listed approvers with workflows.execute; anyone with it when none are listed; admins
    and owners always."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user_is_org_admin(user=user, organization=organization):
        return True
    if role_for(user=user, organization=organization) is None or not may_answer_approvals(user, organization):
        return False
    return _is_listed(approval.approvers, user) if approval.approvers else True


def is_self_approval(approval: ApprovalRequest, user: Any) -> bool:
    requesters = {approval.requested_by_id, approval.instance.triggered_by_id} - {None}
    return user.pk in requesters and not approval.allow_self_approval


def respond_refusal(
    approval: ApprovalRequest, user: Any, organization: Organization, *, approve: bool
) -> ApplicationError | None:
    """Why `user` may not give this answer, or None. Self-approval is refused for everyone,
    admins and owners included, unless the gate allows it; rejecting your own run is fine."""
    if not is_eligible(approval, user, organization):
        role = role_for(user=user, organization=organization)
        if role is not None and not may_answer_approvals(user, organization):
            return PermissionDenied(f"You are not an approver of this request: responding to approvals needs "
                                    f"workflows.execute, which your role ({role}) does not have.",
                                    code="not_an_approver")
        listed = ", ".join(approval.approvers) or "anyone with workflows.execute"
        return PermissionDenied(f"You are not an approver of this request (approvers: {listed}).",
                                code="not_an_approver")
    if approve and is_self_approval(approval, user):
        return PermissionDenied("You started this run and this gate does not allow self-approval.",
                                code="self_approval")
    return None


def may_respond(approval: ApprovalRequest, user: Any, organization: Organization, *, approve: bool) -> bool:
    """Whether `user` can give this answer now (the API's `can_approve` / `can_reject`, the
    inbox's buttons): the request is pending, they have not answered it, nothing refuses.
    Reads `approval.responses.all()`, so prefetch them for a list."""
    if approval.status != ApprovalStatus.PENDING:
        return False
    if any(response.actor_id == user.pk for response in approval.responses.all()):
        return False
    return respond_refusal(approval, user, organization, approve=approve) is None


def eligible_q(user: Any, organization: Organization) -> Q:
    """The queryset form of `is_eligible` for pending requests (the `mine` filter, the
    navigation's count)."""
    if not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    if user_is_org_admin(user=user, organization=organization):
        return Q()
    if role_for(user=user, organization=organization) is None or not may_answer_approvals(user, organization):
        return Q(pk__in=[])
    if connection.vendor != "postgresql":
        return _eligible_pending_q(user, organization)
    listed = Q(approvers=[]) | Q(approvers__contains=[user.get_username()])
    for name in user_group_names(user):
        listed |= Q(approvers__contains=[f"{GROUP_PREFIX}{name}"])
    return listed


def _eligible_pending_q(user: Any, organization: Organization) -> Q:
    """SQLite (the embedded mode) has no JSON containment: the organization's pending
    requests (the only ones this is used for) are checked here instead."""
    pending = ApprovalRequest.objects.filter(organization=organization, status=ApprovalStatus.PENDING)
    ids = [pk for pk, approvers in pending.values_list("pk", "approvers")
           if not approvers or _is_listed(approvers, user)]
    return Q(pk__in=ids)
