"""The kill switch in the admin: "Add" engages and the action releases, through the
services; the rows themselves are read-only history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.roles import Role
from apps.audit.models import AuditEvent
from apps.automation.models import KillSwitch
from apps.automation.services import kill_switch_engage

pytestmark = pytest.mark.django_db
LIST, ADD = "/admin/automation/killswitch/", "/admin/automation/killswitch/add/"


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def test_add_engages_through_the_service(admin_client, superuser, org, patch_web):
    response = admin_client.post(ADD, {"organization": org.pk, "workflow": patch_web.pk, "reason": " flaky ",
                                       "until_0": "", "until_1": ""})

    assert response.status_code == 302, response.content.decode()[:2000]
    switch = KillSwitch.objects.get()
    assert (switch.workflow, switch.reason, switch.engaged_by) == (patch_web, "flaky", superuser)
    assert AuditEvent.objects.filter(action="automation.pause", actor=superuser).count() == 1

    admin_client.post(ADD, {"organization": org.pk, "workflow": patch_web.pk, "reason": "again"})
    assert KillSwitch.objects.count() == 1  # a repeat, as everywhere


@pytest.mark.parametrize(("fields", "message"), [
    ({"reason": "   "}, "This field is required."),
    ({"reason": "r", "until_0": "2001-01-01", "until_1": "10:00"}, "has already passed"),
])
def test_add_shows_form_errors_and_the_services_refusals(admin_client, org, fields, message):
    response = admin_client.post(ADD, {"organization": org.pk, **fields})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not KillSwitch.objects.exists()


def test_add_refuses_another_organizations_workflow(admin_client, org, foreign_workflow):
    response = admin_client.post(ADD, {"organization": org.pk, "workflow": foreign_workflow.pk, "reason": "r"})
    assert "Pick a workflow of this organization." in response.content.decode()
    assert not KillSwitch.objects.exists()


def test_release_action_goes_through_the_service(admin_client, superuser, owner, org):
    switch = kill_switch_engage(organization=org, actor=owner, reason="incident",
                                until=timezone.now() + timedelta(hours=1))

    admin_client.post(LIST, {"action": "release", "_selected_action": [switch.pk]})
    admin_client.post(LIST, {"action": "release", "_selected_action": [switch.pk]})  # already off: a warning

    switch.refresh_from_db()
    assert (switch.released_by, switch.release_reason) == (superuser, "released in the admin")
    assert AuditEvent.objects.filter(action="automation.resume", actor=superuser).count() == 1


def test_rows_are_read_only_history(admin_client, owner, org):
    switch = kill_switch_engage(organization=org, actor=owner, reason="incident")
    change = f"{LIST}{switch.pk}/change/"

    assert admin_client.get(change).status_code == 200
    admin_client.post(change, {"organization": org.pk, "reason": "rewritten"})
    assert admin_client.post(f"{LIST}{switch.pk}/delete/", {"post": "yes"}).status_code == 403
    switch.refresh_from_db()
    assert switch.reason == "incident"


def test_org_admins_see_and_engage_only_their_organizations(client, org, other_org, make_member, owner,
                                                            foreign_workflow):
    from django.contrib.auth.models import Permission

    staff = make_member(org, Role.ADMIN, "staff-admin")
    staff.is_staff = True
    staff.save()
    staff.user_permissions.add(*Permission.objects.filter(content_type__app_label="automation"))
    kill_switch_engage(organization=other_org, actor=None, reason="globex secret")
    client.force_login(staff)

    assert "globex secret" not in client.get(LIST).content.decode()
    form = client.get(ADD).content.decode()
    assert foreign_workflow.name not in form and other_org.name not in form
    response = client.post(ADD, {"organization": other_org.pk, "reason": "not mine"})
    assert response.status_code == 200
    assert KillSwitch.objects.filter(organization=other_org).count() == 1
