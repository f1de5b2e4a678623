"""The portal's Approvals inbox: what waits for me, the toggles, one request with its plan,
approve and reject through the service, refusals as messages."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from apps.accounts.roles import Role
from apps.approvals.models import ApprovalStatus
from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db
INBOX = reverse("approvals:inbox")


def shown(response) -> list[int]:
    return [row.approval.pk for row in response.context["rows"]]


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def approve_url(approval) -> str:
    return reverse("approvals:approve", args=[approval.pk])


def reject_url(approval) -> str:
    return reverse("approvals:reject", args=[approval.pk])


@pytest.fixture
def as_operator(client, operator):
    client.force_login(operator)
    return client


def test_waiting_for_me_lists_what_i_may_answer(as_operator, make_approval, operator):
    anyone = make_approval()  # no approvers: anyone with workflows.execute
    listed = make_approval(approvers=["operator"])
    by_group = make_approval(approvers=["someone", "group:ops"])
    not_mine = make_approval(approvers=["someone-else"])
    resolved = make_approval(status=ApprovalStatus.APPROVED)
    answered = make_approval(required_approvals=2)
    answered.responses.create(actor=operator, approve=True)
    operator.groups.add(Group.objects.create(name="ops"))

    response = as_operator.get(INBOX)

    assert response.status_code == 200
    assert sorted(shown(response)) == sorted([anyone.pk, listed.pk, by_group.pk])
    assert sorted(shown(as_operator.get(INBOX, {"show": "pending"}))) == sorted(
        [anyone.pk, listed.pk, by_group.pk, not_mine.pk, answered.pk])
    assert shown(as_operator.get(INBOX, {"show": "resolved"})) == [resolved.pk]
    assert len(shown(as_operator.get(INBOX, {"show": "all"}))) == 6
    assert sorted(shown(as_operator.get(INBOX, {"show": "nonsense"}))) == sorted(shown(response))


def test_admins_see_every_pending_request(client, org, make_member, make_approval):
    admin = make_member(org, Role.ADMIN, "erin")
    requests = [make_approval(approvers=["someone-else"]), make_approval()]
    client.force_login(admin)
    assert sorted(shown(client.get(INBOX))) == sorted(a.pk for a in requests)


def test_a_row_shows_what_a_responder_needs(as_operator, make_approval):
    approval = make_approval(required_approvals=2, plan_from="plan", approvers=["operator", "alice"])
    html = as_operator.get(INBOX).content.decode()
    card = html[html.index(f'id="approval-{approval.pk}"'):]
    for text in ("deploy", f'href="{reverse("engine:instance-detail", args=[approval.instance_id])}"',
                 "<code>gate</code>", "Apply?", "by owner", "0 of 2 required", "operator, alice",
                 f'href="{reverse("approvals:detail", args=[approval.pk])}#plan">View plan</a>',
                 f'action="{approve_url(approval)}"', f'formaction="{reject_url(approval)}"',
                 'name="csrfmiddlewaretoken"'):
        assert text in card, text


def test_approve_from_the_inbox(as_operator, operator, make_approval):
    approval = make_approval()

    response = as_operator.post(approve_url(approval), {"comment": "looks right", "next": f"{INBOX}?show=all"},
                                follow=True)

    assert response.redirect_chain == [(f"{INBOX}?show=all", 302)]
    assert messages_of(response) == [f"Approved deploy #{approval.instance_id}, step gate: the run continues."]
    approval.refresh_from_db()
    assert approval.status == "approved"
    assert list(approval.responses.values_list("actor__username", "approve", "comment")) == [
        ("operator", True, "looks right")]
    assert AuditEvent.objects.filter(action="approval.respond", actor=operator).count() == 1


def test_a_partial_approval_says_how_many_are_still_needed(as_operator, make_approval):
    approval = make_approval(required_approvals=2)
    response = as_operator.post(approve_url(approval), {}, follow=True)
    assert messages_of(response) == [
        f"Your approval of deploy #{approval.instance_id}, step gate is recorded: 1 of 2 approvals."]
    approval.refresh_from_db()
    assert approval.status == "pending"


def test_reject_needs_a_comment(as_operator, make_approval):
    approval = make_approval()

    refused = as_operator.post(reject_url(approval), {"comment": "  "}, follow=True)
    assert messages_of(refused) == [f"Request #{approval.pk} was not answered: A comment is required to reject."]
    approval.refresh_from_db()
    assert approval.status == "pending"

    rejected = as_operator.post(reject_url(approval), {"comment": "wrong server"}, follow=True)
    assert messages_of(rejected) == [f"Rejected deploy #{approval.instance_id}, step gate."]
    approval.refresh_from_db()
    assert approval.status == "rejected"


def test_refusals_are_readable_messages(as_operator, make_approval, operator):
    resolved = make_approval(status=ApprovalStatus.APPROVED)
    mine = make_approval(started_by=operator)
    not_listed = make_approval(approvers=["someone-else"])

    late = as_operator.post(approve_url(resolved), {}, follow=True)
    self_approval = as_operator.post(approve_url(mine), {}, follow=True)
    outsider = as_operator.post(approve_url(not_listed), {}, follow=True)

    assert messages_of(late) == [f"Request #{resolved.pk} was not answered: Approval {resolved.pk} is already "
                                 "approved."]
    assert "does not allow self-approval" in messages_of(self_approval)[0]
    assert "You are not an approver of this request (approvers: someone-else)." in messages_of(outsider)[0]
    assert not AuditEvent.objects.filter(action="approval.respond").exists()


def test_a_pending_request_i_cannot_answer_says_why(client, make_approval, operator):
    make_approval(approvers=["someone-else"])
    started = make_approval(started_by=operator)
    client.force_login(operator)

    html = client.get(INBOX, {"show": "pending"}).content.decode()

    assert "You are not an approver of this request (approvers: someone-else)." in html
    card = html[html.index(f'id="approval-{started.pk}"'):]
    assert "does not allow self-approval" in card
    card = card.split("</article>")[0]
    assert f'formaction="{reject_url(started)}"' in card and '<button type="submit">Approve' not in card
    assert f'<button type="button" disabled aria-describedby="approval-{started.pk}-why">Approve</button>' in card


def test_detail_shows_the_plan(as_operator, make_approval):
    approval = make_approval(plan_from="plan")
    response = as_operator.get(reverse("approvals:detail", args=[approval.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert '<section id="plan"' in html
    assert "<h4>diff</h4>" in html and "<pre>+ ntp server 10.0.0.1</pre>" in html
    assert html.index('id="plan"') < html.index("Approve</button>")  # read the plan, then decide


def test_a_plan_that_is_not_text_or_missing(as_operator, make_approval):
    listed = make_approval(plan_from="plan")
    listed.instance.steps.filter(step_id="plan").update(output=[{"host": "web-1", "changed": True}])
    missing = make_approval(plan_from="render")

    listed_html = as_operator.get(reverse("approvals:detail", args=[listed.pk])).content.decode()
    missing_html = as_operator.get(reverse("approvals:detail", args=[missing.pk])).content.decode()

    assert "&quot;changed&quot;: true" in listed_html
    assert "Step render has no output." in missing_html


def test_answered_and_double_clicked(as_operator, make_approval):
    approval = make_approval(required_approvals=2)
    as_operator.post(approve_url(approval), {})
    again = as_operator.post(approve_url(approval), {}, follow=True)  # a double click: counted once
    assert "1 of 2 approvals" in messages_of(again)[0]
    assert approval.responses.count() == 1
    html = as_operator.get(INBOX, {"show": "pending"}).content.decode()
    assert "You approved this request." in html


def test_next_never_leaves_the_site(as_operator, make_approval):
    approval = make_approval()
    response = as_operator.post(approve_url(approval), {"next": "https://evil.example/"})
    assert response["Location"] == INBOX


def test_another_organizations_request_is_404(as_operator, make_approval, other_org):
    foreign = make_approval(organization=other_org)
    assert as_operator.get(reverse("approvals:detail", args=[foreign.pk])).status_code == 404
    assert as_operator.post(approve_url(foreign), {}).status_code == 404
    assert as_operator.post(reject_url(foreign), {"comment": "x"}).status_code == 404
    assert foreign.pk not in shown(as_operator.get(INBOX, {"show": "all"}))
    foreign.refresh_from_db()
    assert foreign.status == "pending"


def test_answers_need_post_and_csrf(operator, make_approval):
    approval = make_approval()
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    assert client.get(approve_url(approval)).status_code == 405
    assert client.post(approve_url(approval), {}).status_code == 403
    approval.refresh_from_db()
    assert approval.status == "pending"


def test_inbox_query_count_does_not_grow_with_rows(as_operator, make_approval, django_assert_max_num_queries):
    for _ in range(3):
        make_approval()
    # session, user, organization, membership, the switcher, groups, count, rows, responses, banner,
    # the nav's approvals badge (a count; the groups are read once)
    with django_assert_max_num_queries(11) as few:
        assert as_operator.get(INBOX).status_code == 200
    for _ in range(20):
        make_approval()
    with django_assert_max_num_queries(11) as many:
        assert as_operator.get(INBOX).status_code == 200
    assert len(many) == len(few)


def test_nav_links_to_the_inbox(client, viewer):
    client.force_login(viewer)
    html = client.get(reverse("portal:dashboard")).content.decode()
    assert f'<a href="{INBOX}">Approvals</a>' in html


def nav_badge(html: str) -> str | None:
    match = re.search(r'<nav class="main-nav".*?>Approvals(?: <span class="nav-badge">(\d+)'
                      r'<span class="visually-hidden"> waiting for your answer</span></span>)?</a>', html, re.S)
    assert match, "no Approvals entry in the navigation"
    return match.group(1)


def test_the_navigation_counts_what_waits_for_my_answer(as_operator, make_approval, org, make_member):
    make_approval(approvers=["someone-else"])
    assert nav_badge(as_operator.get(reverse("portal:dashboard")).content.decode()) is None

    mine = make_approval(approvers=["operator"])
    make_approval()  # anyone with workflows.execute
    assert nav_badge(as_operator.get(reverse("portal:dashboard")).content.decode()) == "2"

    as_operator.post(approve_url(mine), {"comment": ""})
    assert nav_badge(as_operator.get(INBOX).content.decode()) == "1"
    viewer = Client()
    viewer.force_login(make_member(org, Role.VIEWER, "watcher"))
    assert nav_badge(viewer.get(reverse("portal:dashboard")).content.decode()) is None
