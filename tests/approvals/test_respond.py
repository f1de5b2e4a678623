"""approval_respond: the rules of DESIGN §6/§7, allowed and refused, against Postgres."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from apps.accounts.roles import Role
from apps.approvals.services import approval_respond
from apps.audit.models import AuditEvent
from apps.core.errors import ApplicationError
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(org, other_org, owner, operator, viewer, make_member):
    netops = Group.objects.create(name="netops")
    bob = make_member(org, Role.OPERATOR, "bob")
    bob.groups.add(netops)
    val = make_member(org, Role.VIEWER, "val")  # a viewer listed by name and by group
    val.groups.add(netops)
    return {
        "owner": owner,
        "carol": operator,  # operator: holds workflows.execute
        "dave": viewer,  # viewer: no workflows.execute
        "alice": make_member(org, Role.OPERATOR, "alice"),
        "bob": bob,
        "val": val,
        "erin": make_member(org, Role.ADMIN, "erin"),
        "mallory": make_member(other_org, Role.OWNER, "mallory"),  # not a member of org
        "ed": make_member(org, Role.EDITOR, "ed"),
    }


RULES = [
    # approvers, started by, who approves, allow_self_approval, refusal code (None = allowed)
    (["alice"], "carol", "alice", False, None),
    (["group:netops"], "carol", "bob", False, None),
    (["alice"], "owner", "carol", False, "not_an_approver"),
    (["alice", "group:netops"], "owner", "dave", False, "not_an_approver"),
    (["group:nobody"], "owner", "bob", False, "not_an_approver"),
    # listed, but responding to approvals needs workflows.execute (the manual; DESIGN §7)
    (["val"], "owner", "val", False, "not_an_approver"),
    (["group:netops"], "owner", "val", False, "not_an_approver"),
    ([], "owner", "carol", False, None),
    ([], "owner", "ed", False, None),
    ([], "owner", "dave", False, "not_an_approver"),
    (["alice"], "carol", "erin", False, None),
    (["alice"], "carol", "owner", False, None),
    (["mallory"], "carol", "mallory", False, "not_an_approver"),
    ([], "carol", "carol", False, "self_approval"),
    ([], "owner", "owner", False, "self_approval"),
    (["alice"], "alice", "alice", False, "self_approval"),
    ([], "carol", "carol", True, None),
    ([], "owner", "owner", True, None),
]


@pytest.mark.parametrize(("approvers", "started_by", "actor", "allow_self", "refusal"), RULES)
def test_who_may_approve(people, org, make_approval, approvers, started_by, actor, allow_self, refusal):
    approval = make_approval(approvers=approvers, started_by=people[started_by], allow_self_approval=allow_self)

    def respond():
        return approval_respond(approval_id=approval.pk, actor=people[actor], organization=org, approve=True)

    if refusal is None:
        assert respond().status == "approved"
        assert list(approval.responses.values_list("actor__username", "approve")) == [(people[actor].username, True)]
    else:
        with pytest.raises(ApplicationError) as error:
            respond()
        assert (error.value.status_code, error.value.code) == (403, refusal)
        approval.refresh_from_db()
        assert approval.status == "pending" and not approval.responses.exists()


def test_the_one_who_started_the_run_may_still_reject_it(people, org, make_approval):
    approval = make_approval(started_by=people["carol"])

    result = approval_respond(approval_id=approval.pk, actor=people["carol"], organization=org, approve=False,
                              comment="wrong change window")

    assert result.status == "rejected"


def test_rejecting_needs_a_comment(people, org, make_approval):
    approval = make_approval(started_by=people["owner"])

    for comment in ("", "   "):
        with pytest.raises(ApplicationError) as error:
            approval_respond(approval_id=approval.pk, actor=people["carol"], organization=org, approve=False,
                             comment=comment)
        assert (error.value.status_code, error.value.code) == (400, "comment_required")
    approval.refresh_from_db()
    assert approval.status == "pending"


def test_required_approvals_counts_distinct_people_and_double_clicks_once(people, org, make_approval):
    approval = make_approval(required_approvals=2, started_by=people["owner"])

    for _ in range(3):  # a triple click is one approval
        result = approval_respond(approval_id=approval.pk, actor=people["carol"], organization=org, approve=True)
        assert result.status == "pending"
    assert approval.responses.count() == 1
    result = approval_respond(approval_id=approval.pk, actor=people["ed"], organization=org, approve=True,
                              comment="looks right")

    assert result.status == "approved" and result.resolved_at is not None
    assert sorted(approval.responses.values_list("actor__username", flat=True)) == ["ed", "operator"]


def test_one_reject_resolves_even_after_approvals(people, org, make_approval):
    approval = make_approval(required_approvals=3, started_by=people["owner"])
    approval_respond(approval_id=approval.pk, actor=people["carol"], organization=org, approve=True)

    result = approval_respond(approval_id=approval.pk, actor=people["ed"], organization=org, approve=False,
                              comment="diff touches prod")

    assert result.status == "rejected"


def test_a_resolved_request_refuses_new_answers_but_a_repeat_is_harmless(people, org, make_approval):
    approval = make_approval(started_by=people["owner"])
    approval_respond(approval_id=approval.pk, actor=people["carol"], organization=org, approve=True)

    again = approval_respond(approval_id=approval.pk, actor=people["carol"], organization=org, approve=True)
    assert again.status == "approved"
    for actor, approve in (("ed", False), ("erin", True), ("carol", False)):
        with pytest.raises(ApplicationError) as error:
            approval_respond(approval_id=approval.pk, actor=people[actor], organization=org, approve=approve,
                             comment="late")
        assert (error.value.status_code, error.value.code) == (409, "approval_resolved")
    assert approval.responses.count() == 1
    assert AuditEvent.objects.filter(action="approval.respond").count() == 1


def test_an_answer_cannot_be_changed_while_pending(people, org, make_approval):
    approval = make_approval(required_approvals=2, started_by=people["owner"])
    approval_respond(approval_id=approval.pk, actor=people["carol"], organization=org, approve=True)

    with pytest.raises(ApplicationError) as error:
        approval_respond(approval_id=approval.pk, actor=people["carol"], organization=org, approve=False,
                         comment="changed my mind")

    assert (error.value.status_code, error.value.code) == (409, "already_responded")


def test_timed_out_and_canceled_requests_are_resolved(people, org, make_approval):
    for status in ("timed_out", "canceled"):
        approval = make_approval(started_by=people["owner"], status=status)
        with pytest.raises(ApplicationError) as error:
            approval_respond(approval_id=approval.pk, actor=people["carol"], organization=org, approve=True)
        assert error.value.code == "approval_resolved"


def test_every_answer_is_audited_with_its_comment(people, org, make_approval):
    approval = make_approval(started_by=people["owner"])

    approval_respond(approval_id=approval.pk, actor=people["erin"], organization=org, approve=False,
                     comment="not tonight")

    event = AuditEvent.objects.get(action="approval.respond")
    assert (event.actor_username, event.organization_id, event.target_id) == ("erin", org.pk, str(approval.pk))
    assert event.data == {"approve": False, "comment": "not tonight", "instance": approval.instance_id,
                          "step": "gate", "status": "rejected"}


def test_another_organizations_request_is_not_found(people, org, other_org, make_approval):
    approval = make_approval(organization=other_org, started_by=UserFactory(username="x"))

    with pytest.raises(ApplicationError) as error:
        approval_respond(approval_id=approval.pk, actor=people["owner"], organization=org, approve=True)

    assert error.value.status_code == 404
