"""Responding to approvals needs workflows.execute (the manual; DESIGN §7), listed or not;
admins and owners always may. The API, the inbox page and its buttons agree."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.roles import Role

pytestmark = pytest.mark.django_db
INBOX = reverse("approvals:inbox")
# role, may answer a request that lists them (and everyone else below)
ROLES = [(Role.VIEWER, False), (Role.OPERATOR, True), (Role.EDITOR, True), (Role.ADMIN, True), (Role.OWNER, True)]


@pytest.fixture
def member(org, make_member):
    def make(role: str):
        return make_member(org, role, f"m-{role}")

    return make


@pytest.mark.parametrize(("role", "may"), ROLES)
def test_the_api_lets_only_members_with_execute_answer(org, member, make_approval, api, role, may):
    user = member(role)
    listed = make_approval(approvers=[user.username])
    client = api(user, org)

    flags = client.get(f"/api/approvals/{listed.pk}/").json()
    response = client.post(f"/api/approvals/{listed.pk}/approve/", {"comment": "ok"}, format="json")

    assert (flags["can_approve"], flags["can_reject"]) == (may, may)
    if may:
        assert (response.status_code, response.json()["status"]) == (200, "approved")
    else:
        assert (response.status_code, response.json()["code"]) == (403, "not_an_approver")
        assert "workflows.execute" in response.json()["detail"] and "viewer" in response.json()["detail"]
        listed.refresh_from_db()
        assert listed.status == "pending" and not listed.responses.exists()


@pytest.mark.parametrize(("role", "may"), [(Role.VIEWER, False), (Role.OPERATOR, False), (Role.ADMIN, True),
                                           (Role.OWNER, True)])
def test_admins_and_owners_answer_requests_that_do_not_list_them(org, member, make_approval, api, role, may):
    approval = make_approval(approvers=["someone-else"])

    response = api(member(role), org).post(f"/api/approvals/{approval.pk}/reject/", {"comment": "no"},
                                           format="json")

    assert response.status_code == (200 if may else 403), response.json()


@pytest.mark.parametrize(("role", "may"), ROLES)
def test_the_inbox_offers_buttons_only_to_those_who_may_answer(org, member, make_approval, role, may):
    user = member(role)
    listed = make_approval(approvers=[user.username])
    client = Client()
    client.force_login(user)

    mine = client.get(INBOX)
    html = client.get(INBOX, {"show": "pending"}).content.decode()
    card = html[html.index(f'id="approval-{listed.pk}"'):].split("</article>")[0]
    posted = client.post(reverse("approvals:approve", args=[listed.pk]), {}, follow=True)

    assert ([row.approval.pk for row in mine.context["rows"]] == [listed.pk]) is may
    assert ("<button type=\"submit\">Approve</button>" in card) is may
    answered = [str(m) for m in posted.context["messages"]]
    if may:
        assert answered[0].startswith("Approved deploy")
    else:
        assert f'<button type="button" disabled aria-describedby="approval-{listed.pk}-why">Approve</button>' in card
        assert f'id="approval-{listed.pk}-why">You are not an approver of this request: responding' in card
        assert answered == [f"Request #{listed.pk} was not answered: You are not an approver of this request: "
                            "responding to approvals needs workflows.execute, which your role (viewer) does not have."]
        listed.refresh_from_db()
        assert listed.status == "pending"
