"""The portal's Approvals inbox (DESIGN §6): requests waiting for me (admins: every pending
one), the others on a toggle, one request with its plan, and approve / reject.

Approve and Reject call `approval_respond`, the service the API's approve/ and reject/ call;
its refusals (a missing comment, a resolved request, not an approver, self-approval) come
back as messages. Reading needs `workflows.view`, like the API: whether someone may answer
is the service's call."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.models import Organization
from apps.accounts.roles import Perm
from apps.approvals.forms import RespondForm
from apps.approvals.models import ApprovalRequest, ApprovalStatus
from apps.approvals.rules import may_respond, respond_refusal
from apps.approvals.selectors import approval_plan, approvals_list, approvals_respondable
from apps.approvals.services import approval_respond
from apps.core.errors import Conflict, InvalidInput, PermissionDenied
from apps.portal.access import org_view
from apps.portal.pagination import paginate

SHOW = {
    "mine": "Waiting for me",
    "pending": "All pending",
    "resolved": "Resolved",
    "all": "All",
}


@dataclass(frozen=True)
class Row:
    approval: ApprovalRequest
    can_approve: bool
    can_reject: bool
    note: str  # why the buttons are missing from a pending request, or ""

    @property
    def approvals_so_far(self) -> int:
        return sum(1 for response in self.approval.responses.all() if response.approve)


@require_GET
@org_view(Perm.WORKFLOWS_VIEW)
def inbox_view(request: HttpRequest, organization: Organization) -> HttpResponse:
    show = request.GET.get("show", "mine")
    if show not in SHOW:
        show = "mine"
    context = paginate(request, _shown(request, organization, show))
    context["rows"] = [_row(request, organization, approval) for approval in context["page_obj"].object_list]
    context.update({"show": show, "tabs": SHOW.items()})
    return render(request, "approvals/inbox.html", context)


@require_GET
@org_view(Perm.WORKFLOWS_VIEW)
def detail_view(request: HttpRequest, organization: Organization, approval_id: int) -> HttpResponse:
    approval = approvals_list(organization=organization).filter(pk=approval_id).first()
    if approval is None:
        raise Http404("Approval request not found.")
    context = {"row": _row(request, organization, approval), "plan": _plan_sections(approval_plan(approval))}
    return render(request, "approvals/detail.html", context)


@require_POST
@org_view(Perm.WORKFLOWS_VIEW)
def approve_view(request: HttpRequest, organization: Organization, approval_id: int) -> HttpResponse:
    return _respond(request, organization, approval_id, approve=True)


@require_POST
@org_view(Perm.WORKFLOWS_VIEW)
def reject_view(request: HttpRequest, organization: Organization, approval_id: int) -> HttpResponse:
    return _respond(request, organization, approval_id, approve=False)


def _shown(request: HttpRequest, organization: Organization, show: str) -> QuerySet[ApprovalRequest]:
    approvals = approvals_list(organization=organization)
    if show == "mine":
        return approvals_respondable(approvals, user=request.user, organization=organization)
    if show == "pending":
        return approvals.filter(status=ApprovalStatus.PENDING)
    if show == "resolved":
        return approvals.exclude(status=ApprovalStatus.PENDING)
    return approvals


def _row(request: HttpRequest, organization: Organization, approval: ApprovalRequest) -> Row:
    can_approve = may_respond(approval, request.user, organization, approve=True)
    return Row(approval=approval, can_approve=can_approve,
               can_reject=may_respond(approval, request.user, organization, approve=False),
               note="" if can_approve else _note(request, organization, approval))


def _note(request: HttpRequest, organization: Organization, approval: ApprovalRequest) -> str:
    if approval.status != ApprovalStatus.PENDING:
        return ""
    mine = next((r for r in approval.responses.all() if r.actor_id == request.user.pk), None)
    if mine is not None:
        return f"You {'approved' if mine.approve else 'rejected'} this request."
    refusal = respond_refusal(approval, request.user, organization, approve=True)
    return refusal.message if refusal is not None else ""


def _respond(request: HttpRequest, organization: Organization, approval_id: int, *, approve: bool) -> HttpResponse:
    form = RespondForm(request.POST)
    back = _next_url(request)
    if not form.is_valid():
        messages.error(request, f"Request #{approval_id} was not answered: {form.errors.as_text()}")
        return redirect(back)
    try:
        approval = approval_respond(approval_id=approval_id, actor=request.user, organization=organization,
                                    approve=approve, comment=form.cleaned_data["comment"])
    except (InvalidInput, Conflict, PermissionDenied) as exc:
        messages.error(request, f"Request #{approval_id} was not answered: {exc.message}")
        return redirect(back)
    messages.success(request, _outcome_message(approval, approve=approve))
    return redirect(back)


def _outcome_message(approval: ApprovalRequest, *, approve: bool) -> str:
    what = f"{approval.instance.workflow_name} #{approval.instance_id}, step {approval.step_id}"
    if approval.status == ApprovalStatus.APPROVED:
        return f"Approved {what}: the run continues."
    if approval.status == ApprovalStatus.REJECTED:
        return f"Rejected {what}."
    approvals = approval.responses.filter(approve=True).count()
    return f"Your approval of {what} is recorded: {approvals} of {approval.required_approvals} approvals."


def _next_url(request: HttpRequest) -> str:
    """Back to the page the form was on (a list tab or the request's page), never elsewhere."""
    next_url = request.POST.get("next", "")
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return next_url
    return reverse("approvals:inbox")


def _plan_sections(plan: Any) -> list[tuple[str, str]]:
    """The plan step's output as (label, text) blocks: text values as they are (a diff stays
    readable), anything else as indented JSON."""
    if plan is None:
        return []
    if isinstance(plan, dict):
        return [(str(key), _text(value)) for key, value in plan.items()]
    return [("", _text(plan))]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
