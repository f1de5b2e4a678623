"""/api/approvals/: list, filters, skip/limit, detail with the plan, approve and reject."""

from __future__ import annotations

import pytest

from apps.accounts.roles import Role
from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_approve_and_reject_through_the_api(org, owner, operator, make_member, make_approval, api):
    admin = make_member(org, Role.ADMIN, "erin")
    first, second = make_approval(), make_approval()

    approved = api(operator, org).post(f"/api/approvals/{first.pk}/approve/", {}, format="json")
    missing_comment = api(admin, org).post(f"/api/approvals/{second.pk}/reject/", {}, format="json")
    rejected = api(admin, org).post(f"/api/approvals/{second.pk}/reject/", {"comment": "not now"}, format="json")

    assert approved.status_code == 200, approved.json()
    body = approved.json()
    assert (body["status"], body["can_approve"], body["can_reject"]) == ("approved", False, False)
    assert [(r["user"], r["approve"]) for r in body["responses"]] == [("operator", True)]
    assert (missing_comment.status_code, missing_comment.json()["code"]) == (400, "comment_required")
    assert rejected.status_code == 200
    assert rejected.json()["responses"][0] == {**rejected.json()["responses"][0], "user": "erin",
                                                "approve": False, "comment": "not now"}
    assert AuditEvent.objects.filter(action="approval.respond").count() == 2


def test_refusals_explain_themselves(org, owner, operator, viewer, make_approval, api):
    listed = make_approval(approvers=["someone-else"])
    mine = make_approval(started_by=operator)

    not_listed = api(operator, org).post(f"/api/approvals/{listed.pk}/approve/", {}, format="json")
    self_approval = api(operator, org).post(f"/api/approvals/{mine.pk}/approve/", {}, format="json")
    api(owner, org).post(f"/api/approvals/{mine.pk}/approve/", {}, format="json")
    repeat = api(owner, org).post(f"/api/approvals/{mine.pk}/approve/", {}, format="json")
    late = api(operator, org).post(f"/api/approvals/{mine.pk}/reject/", {"comment": "too late"}, format="json")
    unknown = api(operator, org).post(f"/api/approvals/{mine.pk}/approve/", {"approve": True}, format="json")

    assert (not_listed.status_code, not_listed.json()["code"]) == (403, "not_an_approver")
    assert "someone-else" in not_listed.json()["detail"]
    assert (self_approval.status_code, self_approval.json()["code"]) == (403, "self_approval")
    assert (repeat.status_code, repeat.json()["status"]) == (200, "approved")
    assert (late.status_code, late.json()["code"]) == (409, "approval_resolved")
    assert unknown.status_code == 400


def test_detail_shows_the_plan_and_flags(org, operator, viewer, make_approval, api):
    approval = make_approval(plan_from="plan", approvers=["viewer", "operator"])

    as_viewer = api(viewer, org).get(f"/api/approvals/{approval.pk}/").json()
    as_operator = api(operator, org).get(f"/api/approvals/{approval.pk}/").json()

    assert as_viewer["plan"] == {"diff": "+ ntp server 10.0.0.1"}
    # listed, but a viewer lacks workflows.execute: it may read the request, not answer it
    assert (as_viewer["can_approve"], as_viewer["can_reject"]) == (False, False)
    assert (as_operator["can_approve"], as_operator["can_reject"]) == (True, True)
    assert (as_viewer["status"], as_viewer["step_id"], as_viewer["requested_by"]) == ("pending", "gate", "owner")


def test_list_filters_by_status_instance_workflow_and_mine(org, owner, operator, viewer, make_approval,
                                                          make_workflow, api):
    definition = make_workflow([{"id": "gate", "type": "approval", "config": {}}])
    open_for_anyone = make_approval()
    open_for_viewer = make_approval(approvers=["viewer"])
    started_by_operator = make_approval(started_by=operator)
    done = make_approval(status="approved")
    answered = make_approval(required_approvals=2)
    answered.responses.create(actor=operator, approve=True)
    open_for_anyone.instance.definition = definition
    open_for_anyone.instance.save()

    def ids(user, query=""):
        response = api(user, org).get(f"/api/approvals/{query}")
        assert response.status_code == 200, response.json()
        return {row["id"] for row in response.json()["results"]}

    everything = {a.pk for a in (open_for_anyone, open_for_viewer, started_by_operator, done, answered)}
    assert ids(viewer) == everything
    assert ids(viewer, "?status=approved") == {done.pk}
    assert ids(viewer, f"?instance={done.instance_id}") == {done.pk}
    assert ids(viewer, f"?workflow={definition.pk}") == {open_for_anyone.pk}
    assert ids(viewer, "?mine=true") == set()  # listed, but without workflows.execute
    # the operator may still reject the run they started; they already answered `answered`
    assert ids(operator, "?mine=true") == {open_for_anyone.pk, started_by_operator.pk}
    assert ids(owner, "?mine=true") == {open_for_anyone.pk, open_for_viewer.pk, started_by_operator.pk,
                                        answered.pk}
    assert ids(viewer, "?mine=false") == everything


def test_list_paginates_with_skip_and_limit_and_with_pages(org, viewer, make_approval, api):
    made = [make_approval().pk for _ in range(5)]
    newest_first = sorted(made, reverse=True)
    client = api(viewer, org)

    window = client.get("/api/approvals/?skip=1&limit=2").json()
    following = client.get(window["next"]).json()
    page = client.get("/api/approvals/?page=2&page_size=2").json()

    assert window["count"] == 5
    assert [row["id"] for row in window["results"]] == newest_first[1:3]
    assert "skip=3" in window["next"] and "limit=2" in window["next"]
    assert [row["id"] for row in following["results"]] == newest_first[3:5]
    assert [row["id"] for row in page["results"]] == newest_first[2:4]
    assert page["next"] and page["previous"]


def test_another_organizations_requests_are_invisible(org, other_org, owner, make_member, make_approval, api):
    foreign = make_approval(organization=other_org, started_by=make_member(other_org, Role.OWNER, "them"))
    client = api(owner, org)

    assert client.get(f"/api/approvals/{foreign.pk}/").status_code == 404
    assert client.post(f"/api/approvals/{foreign.pk}/approve/", {}, format="json").status_code == 404
    assert client.get("/api/approvals/").json()["count"] == 0
    foreign.refresh_from_db()
    assert foreign.status == "pending"


def test_list_query_count_does_not_grow_with_rows(org, owner, operator, viewer, make_approval, api):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api(viewer, org)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/approvals/?mine=true").status_code == 200
        return len(captured)

    make_approval(approvers=["viewer"]).responses.create(actor=operator, approve=True)
    queries()  # the first request also touches the token's last use
    few = queries()
    for _ in range(4):
        make_approval(approvers=["viewer"], required_approvals=2).responses.create(actor=owner, approve=True)

    assert queries() == few
