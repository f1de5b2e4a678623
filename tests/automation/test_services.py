"""Engage, release and expiry of the kill switch, and what it refuses (DESIGN §6)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.automation.models import KillSwitch
from apps.automation.selectors import kill_switch_engaged
from apps.automation.services import (
    REASON_MAX,
    UNTIL_REACHED,
    kill_switch_engage,
    kill_switch_release,
    kill_switches_expire,
)
from apps.core.errors import ApplicationError, InvalidInput, NotFound
from apps.engine.models import Trigger, WorkflowInstance
from apps.engine.services import instance_start

pytestmark = pytest.mark.django_db


def engaged(org, definition=None) -> bool:
    return kill_switch_engaged(organization_id=org.pk, definition_id=definition.pk if definition else None)


def test_engage_halts_the_organization_and_is_audited(org, owner, patch_web):
    switch = kill_switch_engage(organization=org, actor=owner, reason="  incident 42: bad deploy  ")

    assert (switch.reason, switch.workflow_id, switch.until, switch.engaged_by) == (
        "incident 42: bad deploy", None, None, owner)
    assert engaged(org) and engaged(org, patch_web)
    event = AuditEvent.objects.get(action="automation.pause")
    assert (event.organization, event.actor, event.target_id) == (org, owner, str(switch.pk))
    assert event.data == {"scope": "organization", "workflow": None, "reason": "incident 42: bad deploy",
                          "until": None}


def test_engaging_an_engaged_scope_again_is_a_harmless_repeat(org, owner, make_member):
    first = kill_switch_engage(organization=org, actor=owner, reason="incident 42")
    again = kill_switch_engage(organization=org, actor=make_member(org, "admin"), reason="another reason",
                               until=timezone.now() + timedelta(hours=1))

    assert again.pk == first.pk
    assert (again.reason, again.until) == ("incident 42", None)  # the first engagement stands
    assert KillSwitch.objects.count() == 1
    assert AuditEvent.objects.filter(action="automation.pause").count() == 1


def test_workflow_scope_by_id_or_name_halts_only_that_workflow(org, owner, patch_web, restart_db):
    by_name = kill_switch_engage(organization=org, actor=owner, reason="flaky", workflow="PATCH-web")
    by_id = kill_switch_engage(organization=org, actor=owner, reason="flaky", workflow=str(patch_web.pk))

    assert by_name.pk == by_id.pk and by_name.workflow == patch_web
    assert engaged(org, patch_web)
    assert not engaged(org, restart_db) and not engaged(org)
    event = AuditEvent.objects.get(action="automation.pause")
    assert (event.data["scope"], event.data["workflow"]) == ("workflow", "patch-web")


def test_a_workflow_named_with_digits_is_found_by_name(org, owner):
    from tests.automation.conftest import workflow

    numeric = workflow(org, "2024")
    switch = kill_switch_engage(organization=org, actor=owner, reason="r", workflow="2024")
    assert switch.workflow == numeric


@pytest.mark.parametrize("ref", ["no-such-workflow", 999_999, 2**70])
def test_an_unknown_workflow_is_not_found(org, owner, ref):
    with pytest.raises(NotFound):
        kill_switch_engage(organization=org, actor=owner, reason="r", workflow=ref)
    assert not KillSwitch.objects.exists()


def test_another_organizations_workflow_is_not_found(org, owner, foreign_workflow):
    for ref in (foreign_workflow.pk, foreign_workflow.name):
        with pytest.raises(NotFound):
            kill_switch_engage(organization=org, actor=owner, reason="r", workflow=ref)
        with pytest.raises(NotFound):
            kill_switch_release(organization=org, actor=owner, workflow=ref)
    assert not KillSwitch.objects.exists()


@pytest.mark.parametrize("ref", [True, {"id": 1}, [1], "   "])
def test_a_malformed_workflow_reference_is_invalid(org, owner, ref):
    with pytest.raises(InvalidInput):
        kill_switch_engage(organization=org, actor=owner, reason="r", workflow=ref)


@pytest.mark.parametrize(("reason", "until", "code"), [
    ("", None, "reason_required"),
    ("   \n", None, "reason_required"),
    (None, None, "reason_required"),
    ("x" * (REASON_MAX + 1), None, "reason_too_long"),
    ("maintenance", timedelta(minutes=-1), "until_in_past"),
])
def test_engage_refuses_bad_input(org, owner, reason, until, code):
    when = timezone.now() + until if until is not None else None
    with pytest.raises(InvalidInput) as refused:
        kill_switch_engage(organization=org, actor=owner, reason=reason, until=when)
    assert (refused.value.code, refused.value.status_code) == (code, 400)
    assert not KillSwitch.objects.exists() and not AuditEvent.objects.exists()


def test_release_turns_off_only_its_scope_and_is_audited(org, owner, patch_web):
    org_switch = kill_switch_engage(organization=org, actor=owner, reason="incident")
    wf_switch = kill_switch_engage(organization=org, actor=owner, reason="flaky", workflow=patch_web.pk)

    released = kill_switch_release(organization=org, actor=owner, reason=" all clear ")

    assert [switch.pk for switch in released] == [org_switch.pk]
    org_switch.refresh_from_db()
    assert (org_switch.released_by, org_switch.release_reason) == (owner, "all clear")
    assert org_switch.released_at is not None
    assert not engaged(org) and engaged(org, patch_web)
    event = AuditEvent.objects.get(action="automation.resume")
    assert (event.actor, event.target_id) == (owner, str(org_switch.pk))
    assert event.data == {"scope": "organization", "workflow": None, "reason": "all clear",
                          "engaged_reason": "incident"}

    kill_switch_release(organization=org, actor=owner, workflow="patch-web")
    wf_switch.refresh_from_db()
    assert wf_switch.released_at is not None and not engaged(org, patch_web)


def test_releasing_when_nothing_is_engaged_is_harmless(org, owner):
    assert kill_switch_release(organization=org, actor=owner) == []
    kill_switch_engage(organization=org, actor=owner, reason="incident")
    assert len(kill_switch_release(organization=org, actor=owner)) == 1
    assert kill_switch_release(organization=org, actor=owner, reason="double click") == []
    assert AuditEvent.objects.filter(action="automation.resume").count() == 1


def test_engaging_after_a_release_starts_a_new_engagement(org, owner):
    first = kill_switch_engage(organization=org, actor=owner, reason="one")
    kill_switch_release(organization=org, actor=owner)
    second = kill_switch_engage(organization=org, actor=owner, reason="two")
    assert second.pk != first.pk and engaged(org)
    assert list(KillSwitch.objects.values_list("reason", flat=True)) == ["two", "one"]


def test_a_switch_with_until_turns_itself_off_and_the_sweeper_records_it(org, owner):
    until = timezone.now() + timedelta(minutes=5)
    switch = kill_switch_engage(organization=org, actor=owner, reason="maintenance window", until=until)
    assert engaged(org)
    assert kill_switches_expire() == 0  # not due yet

    KillSwitch.objects.filter(pk=switch.pk).update(until=timezone.now() - timedelta(seconds=1))
    assert not engaged(org)  # off at once, before the sweeper stamps it
    switch.refresh_from_db()
    assert switch.state == "expired"

    assert kill_switches_expire() == 1
    switch.refresh_from_db()
    assert (switch.released_at, switch.released_by, switch.release_reason) == (switch.until, None, UNTIL_REACHED)
    assert switch.state == "released"
    event = AuditEvent.objects.get(action="automation.resume")
    assert (event.actor, event.actor_username, event.organization) == (None, "", org)
    assert event.data["reason"] == UNTIL_REACHED
    assert kill_switches_expire() == 0  # the next tick finds nothing


def test_the_engine_sweep_records_expired_switches(org, owner):
    from apps.engine.tasks import sweep

    switch = kill_switch_engage(organization=org, actor=owner, reason="window",
                                until=timezone.now() + timedelta(minutes=1))
    KillSwitch.objects.filter(pk=switch.pk).update(until=timezone.now() - timedelta(seconds=1))

    sweep()

    switch.refresh_from_db()
    assert switch.release_reason == UNTIL_REACHED


AUTOMATED = [Trigger.SCHEDULE, Trigger.WEBHOOK, Trigger.ALERT]


@pytest.mark.parametrize("trigger", AUTOMATED)
def test_automated_starts_are_refused_while_engaged(org, owner, patch_web, trigger):
    kill_switch_engage(organization=org, actor=owner, reason="incident")

    with pytest.raises(ApplicationError) as refused:
        instance_start(definition=patch_web, actor=None, trigger=trigger)

    assert (refused.value.status_code, refused.value.code) == (409, "kill_switch")
    assert trigger in refused.value.message
    assert not WorkflowInstance.objects.exists()


@pytest.mark.parametrize("trigger", [Trigger.MANUAL, Trigger.API, Trigger.RERUN])
def test_manual_and_api_starts_still_start(org, owner, patch_web, trigger):
    kill_switch_engage(organization=org, actor=owner, reason="incident")

    instance = instance_start(definition=patch_web, actor=owner, trigger=trigger)

    assert (instance.status, instance.trigger) == ("pending", trigger)


def test_a_running_parent_still_starts_its_children(org, owner, patch_web):
    parent = instance_start(definition=patch_web, actor=owner)
    kill_switch_engage(organization=org, actor=owner, reason="incident")

    child = instance_start(definition=patch_web, actor=None, trigger=Trigger.PARENT, parent=parent)

    assert child.parent == parent


def test_a_workflow_switch_refuses_only_that_workflows_automated_starts(org, owner, patch_web, restart_db):
    kill_switch_engage(organization=org, actor=owner, reason="flaky", workflow=patch_web.pk)

    with pytest.raises(ApplicationError):
        instance_start(definition=patch_web, actor=None, trigger=Trigger.WEBHOOK)
    assert instance_start(definition=restart_db, actor=None, trigger=Trigger.WEBHOOK).trigger == "webhook"


def test_automated_starts_resume_after_release_and_after_until(org, owner, patch_web):
    kill_switch_engage(organization=org, actor=owner, reason="incident")
    kill_switch_release(organization=org, actor=owner)
    assert instance_start(definition=patch_web, actor=None, trigger=Trigger.SCHEDULE)

    switch = kill_switch_engage(organization=org, actor=owner, reason="window",
                                until=timezone.now() + timedelta(minutes=1))
    with pytest.raises(ApplicationError):
        instance_start(definition=patch_web, actor=None, trigger=Trigger.SCHEDULE)
    KillSwitch.objects.filter(pk=switch.pk).update(until=timezone.now() - timedelta(seconds=1))
    assert instance_start(definition=patch_web, actor=None, trigger=Trigger.SCHEDULE)


def test_another_organizations_switch_changes_nothing_here(org, other_org, owner, patch_web, make_member):
    kill_switch_engage(organization=other_org, actor=make_member(other_org, "owner"), reason="theirs")

    assert not engaged(org)
    assert instance_start(definition=patch_web, actor=None, trigger=Trigger.ALERT).trigger == "alert"


def test_only_engagements_after_a_run_was_asked_for_count_for_it(org, owner, patch_web):
    before = kill_switch_engage(organization=org, actor=owner, reason="incident")
    instance = instance_start(definition=patch_web, actor=owner)  # a manual run while the switch is on

    assert kill_switch_engaged(organization_id=org.pk, definition_id=patch_web.pk, since=instance.requested_at) is False
    assert kill_switch_engaged(organization_id=org.pk, definition_id=patch_web.pk,
                               since=before.created_at - timedelta(seconds=1)) is True
    kill_switch_engage(organization=org, actor=owner, reason="again, for this workflow", workflow=patch_web.pk)
    assert kill_switch_engaged(organization_id=org.pk, definition_id=patch_web.pk, since=instance.requested_at) is True
