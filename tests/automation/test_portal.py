"""The Automation page (kill switch state, pause, resume, history) and the banner every
portal page shows while automation is paused."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.accounts.roles import Role
from apps.audit.models import AuditEvent
from apps.automation.models import KillSwitch
from apps.automation.services import kill_switch_engage, kill_switch_release

pytestmark = pytest.mark.django_db

PAGE, PAUSE, RESUME = reverse("automation:overview"), reverse("automation:pause"), reverse("automation:resume")
BANNER = 'id="kill-switch-banner"'


@pytest.fixture
def as_owner(client, owner):
    client.force_login(owner)
    return client


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def banner_html(html: str) -> str:
    match = re.search(r'<div class="kill-switch-banner" id="kill-switch-banner">(.*?)</div>', html, re.S)
    return match.group(1) if match else ""


def banner(html: str) -> str:
    """The banner's text, as a reader sees it."""
    return " ".join(re.sub(r"<[^>]+>", "", banner_html(html)).split())


def test_page_when_automation_runs(as_owner):
    response = as_owner.get(PAGE)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Automation is running" in html
    assert '<button type="submit">Pause automation</button>' in html
    assert "The kill switch has never been used in this organization." in html
    assert BANNER not in html


def test_pause_from_the_page(as_owner, owner, org):
    response = as_owner.post(PAUSE, {"reason": "incident 42", "workflow": "", "until": "", "timezone": ""},
                             follow=True)

    assert response.redirect_chain == [(PAGE, 302)]
    assert messages_of(response) == ["Automation is paused for the whole organization."]
    switch = KillSwitch.objects.get()
    assert (switch.organization, switch.workflow, switch.reason, switch.engaged_by) == (org, None, "incident 42",
                                                                                        owner)
    assert AuditEvent.objects.filter(action="automation.pause", actor=owner).exists()
    html = response.content.decode()
    assert "<h2 id=\"state-heading\">Automation is paused</h2>" in html
    assert '<button type="submit">Resume automation</button>' in html
    assert "Automation is paused in Acme" in banner(html) and "incident 42" in banner(html)


def test_pause_one_workflow_with_until_in_the_browsers_time_zone(as_owner, patch_web):
    response = as_owner.post(PAUSE, {"reason": "flaky", "workflow": patch_web.pk, "until": "2099-01-01T10:00",
                                     "timezone": "Europe/Berlin"}, follow=True)

    assert messages_of(response) == ["Automation is paused for workflow patch-web."]
    switch = KillSwitch.objects.get()
    assert switch.workflow == patch_web
    assert switch.until == datetime(2099, 1, 1, 9, 0, tzinfo=UTC)
    html = response.content.decode()
    assert "Automation is paused for some workflows" in html
    assert '<button type="submit">Resume workflow patch-web</button>' in html
    assert "Automation is paused for 1 workflow: patch-web." in banner(html)


@pytest.mark.parametrize(("data", "message"), [
    ({"reason": ""}, "Say why automation is paused: a reason is required."),
    ({"reason": "   "}, "Say why automation is paused: a reason is required."),
    ({"reason": "r", "until": "2001-01-01T00:00"}, "&#x27;until&#x27; has already passed"),
    ({"reason": "r", "until": "soon"}, "Enter a date and a time, or leave it empty."),
    ({"reason": "r", "timezone": "Mars/Olympus"}, "Unknown time zone"),
    ({"reason": "r", "workflow": "abc"}, "Select a valid choice"),
])
def test_pause_errors_are_shown_beside_the_form(as_owner, data, message):
    response = as_owner.post(PAUSE, data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Automation was not paused" in html and message in html
    assert not KillSwitch.objects.exists()


def test_another_organizations_workflow_cannot_be_chosen(as_owner, foreign_workflow):
    response = as_owner.post(PAUSE, {"reason": "r", "workflow": foreign_workflow.pk})
    assert response.status_code == 400
    assert f'value="{foreign_workflow.pk}"' not in response.content.decode()
    assert not KillSwitch.objects.exists()


def test_resume_from_the_page(as_owner, owner, org, patch_web):
    kill_switch_engage(organization=org, actor=owner, reason="incident")
    kill_switch_engage(organization=org, actor=owner, reason="flaky", workflow=patch_web.pk)

    response = as_owner.post(RESUME, {"reason": "all clear"}, follow=True)

    assert response.redirect_chain == [(PAGE, 302)]
    assert messages_of(response)[0].startswith("Automation resumed for the whole organization.")
    released = KillSwitch.objects.get(workflow=None)
    assert (released.released_by, released.release_reason) == (owner, "all clear")
    assert KillSwitch.objects.get(workflow=patch_web).released_at is None

    response = as_owner.post(RESUME, {"workflow": patch_web.pk}, follow=True)
    assert messages_of(response)[0].startswith("Automation resumed for workflow patch-web.")
    html = response.content.decode()
    assert "Automation is running" in html and BANNER not in html
    assert html.count('data-state="released"') == 2

    response = as_owner.post(RESUME, {}, follow=True)
    assert messages_of(response) == ["Automation was not paused there: nothing to resume."]


def test_resume_of_a_foreign_workflow_is_404(as_owner, foreign_workflow):
    assert as_owner.post(RESUME, {"workflow": foreign_workflow.pk}).status_code == 404
    assert as_owner.post(RESUME, {"workflow": "x"}, follow=True).status_code == 200  # a form error, as a message


def test_history_shows_engagements_and_releases(as_owner, owner, org):
    kill_switch_engage(organization=org, actor=owner, reason="window", until=timezone.now() + timedelta(hours=1))
    kill_switch_release(organization=org, actor=owner, reason="done early")
    kill_switch_engage(organization=org, actor=owner, reason="second")

    html = as_owner.get(PAGE).content.decode()
    history = html[html.index('id="switch-history"'):]
    assert history.index("second") < history.index("window")
    assert "done early" in history
    assert 'data-state="engaged"' in history and 'data-state="released"' in history


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_settings_view_sees_the_page_without_the_forms(client, org, owner, make_member, role):
    kill_switch_engage(organization=org, actor=owner, reason="incident")
    client.force_login(make_member(org, role))

    html = client.get(PAGE).content.decode()

    assert "Automation is paused" in html and "incident" in html
    assert "Pause automation</button>" not in html and "Resume automation" not in html
    assert client.post(PAUSE, {"reason": "mine"}).status_code == 403
    assert client.post(RESUME, {}).status_code == 403
    assert KillSwitch.objects.filter(released_at__isnull=True).count() == 1


def test_pause_and_resume_need_post_and_csrf(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.get(PAUSE).status_code == 405
    assert client.post(PAUSE, {"reason": "no token"}).status_code == 403
    assert client.post(RESUME, {}).status_code == 403
    assert not KillSwitch.objects.exists()


def test_the_banner_is_on_every_page_while_paused(client, operator, owner, org, acme):
    client.force_login(operator)
    pages = [reverse("portal:dashboard"), reverse("inventory:host-list"), reverse("engine:instance-list"),
             reverse("workflows:definition-list"), reverse("audit:event-list"), reverse("approvals:inbox"), PAGE]
    for url in pages:
        assert BANNER not in client.get(url).content.decode(), url

    kill_switch_engage(organization=org, actor=owner, reason="incident 42",
                       until=datetime(2099, 1, 1, 12, 0, tzinfo=UTC))

    for url in pages:
        html = client.get(url).content.decode()
        assert "Automation is paused in Acme: incident 42 (until 2099-01-01 12:00 UTC)." in banner(html), url
        assert f'<a href="{PAGE}">See the kill switch</a>' in banner_html(html)


def test_the_banner_shows_only_this_organizations_switch(client, member_of_both, org, other_org, owner,
                                                         make_member):
    kill_switch_engage(organization=other_org, actor=make_member(other_org, Role.OWNER), reason="globex only")
    client.force_login(member_of_both)
    client.post(reverse("portal:switch-organization"), {"organization": org.slug})
    assert BANNER not in client.get(reverse("portal:dashboard")).content.decode()

    client.post(reverse("portal:switch-organization"), {"organization": other_org.slug})
    assert "globex only" in banner(client.get(reverse("portal:dashboard")).content.decode())


def test_the_banner_costs_one_query_paused_or_not(client, operator, owner, org, patch_web, restart_db):
    client.force_login(operator)
    url = reverse("inventory:host-list")
    with CaptureQueriesContext(connection) as running:
        client.get(url)
    kill_switch_engage(organization=org, actor=owner, reason="a", workflow=patch_web.pk)
    kill_switch_engage(organization=org, actor=owner, reason="b", workflow=restart_db.pk)
    with CaptureQueriesContext(connection) as paused:
        html = client.get(url).content.decode()
    assert "Automation is paused for 2 workflows: patch-web, restart-db." in banner(html)
    assert len(paused) == len(running)
    assert sum("automation_killswitch" in query["sql"] for query in paused.captured_queries) == 1


def test_the_page_shares_the_banners_query(as_owner, owner, org, django_assert_max_num_queries):
    kill_switch_engage(organization=org, actor=owner, reason="incident")
    # session, user, organization, membership, the switcher, switches (page and banner), history, workflows,
    # the nav's approvals badge (an owner: the count only)
    with django_assert_max_num_queries(9):
        assert as_owner.get(PAGE).status_code == 200


def test_nav_links_to_the_page(client, viewer):
    client.force_login(viewer)
    html = client.get(reverse("portal:dashboard")).content.decode()
    assert f'<a href="{PAGE}">Automation</a>' in html
