"""Definition services: versions on every change, the published rule, clone/import/export,
the engine's snapshot, and the bundled examples."""

from __future__ import annotations

import pytest
import yaml
from django.core.management import call_command

from apps.audit.models import AuditEvent
from apps.core.errors import Conflict, InvalidInput
from apps.workflows.models import WorkflowDefinition, WorkflowVersion
from apps.workflows.services import (
    definition_clone,
    definition_create,
    definition_delete,
    definition_export,
    definition_import,
    definition_publish,
    definition_snapshot,
    definition_update,
    examples_load,
)
from tests.workflows.conftest import basic

pytestmark = pytest.mark.django_db


ONE_STEP = [{"id": "plan", "type": "command", "config": {"command": "true"}}]


def numbers(definition):
    return list(definition.versions.order_by("number").values_list("number", "step_count"))


def test_create_writes_version_one_and_an_audit_event(org, editor):
    definition = definition_create(organization=org, actor=editor, **basic())

    assert numbers(definition) == [(1, 2)]
    version = definition.versions.get()
    assert version.actor == editor and version.snapshot == definition_export(definition=definition)
    assert definition.created_by == editor and not definition.is_published and definition.is_active
    assert AuditEvent.objects.filter(action="workflow.create", target_id=str(definition.pk)).count() == 1


def test_every_update_writes_a_version_and_a_no_op_does_not(org, editor):
    definition = definition_create(organization=org, actor=editor, **basic())
    steps = basic()["steps"]
    steps[0]["config"]["command"] = "echo changed {{ vars.package }}"

    definition_update(organization=org, definition_id=definition.pk, actor=editor, steps=steps)
    definition_update(organization=org, definition_id=definition.pk, actor=editor, steps=ONE_STEP)
    definition_update(organization=org, definition_id=definition.pk, actor=editor, steps=ONE_STEP)  # no change

    assert numbers(definition) == [(1, 2), (2, 2), (3, 1)]
    v2 = definition.versions.get(number=2)
    assert v2.snapshot["steps"][0]["config"]["command"] == "echo changed {{ vars.package }}"
    assert AuditEvent.objects.filter(action="workflow.update").count() == 2


def test_invalid_update_saves_nothing(org, editor):
    definition = definition_create(organization=org, actor=editor, **basic())
    broken = basic()["steps"] + [{"id": "plan", "type": "command", "config": {"command": "x"}}]

    with pytest.raises(InvalidInput) as excinfo:
        definition_update(organization=org, definition_id=definition.pk, actor=editor, name="other", steps=broken)

    assert excinfo.value.code == "invalid_definition"
    assert excinfo.value.extra["errors"] == [
        {"path": "steps[2].id", "code": "duplicate_id", "message": "Step id 'plan' is used by steps[0] too.",
         "severity": "error"}]
    definition.refresh_from_db()
    assert definition.name == "deploy" and len(definition.steps) == 2 and numbers(definition) == [(1, 2)]


def test_published_definition_only_changes_its_flags(org, editor):
    definition = definition_create(organization=org, actor=editor, **basic())
    definition_publish(organization=org, definition_id=definition.pk, actor=editor)
    definition_publish(organization=org, definition_id=definition.pk, actor=editor)  # twice: harmless

    for change in ({"steps": []}, {"name": "renamed"}, {"is_template": True}, {"steps": [], "is_active": False}):
        with pytest.raises(Conflict) as excinfo:
            definition_update(organization=org, definition_id=definition.pk, actor=editor, **change)
        assert excinfo.value.code == "definition_published" and excinfo.value.status_code == 409

    definition_update(organization=org, definition_id=definition.pk, actor=editor, is_active=False,
                      **definition_export(definition=definition))  # same content: only the flag changes
    definition.refresh_from_db()
    assert definition.is_published and not definition.is_active and len(definition.steps) == 2
    assert numbers(definition) == [(1, 2), (2, 2), (3, 2)]
    assert AuditEvent.objects.filter(action="workflow.publish").count() == 1

    definition_update(organization=org, definition_id=definition.pk, actor=editor, is_published=False)
    definition_update(organization=org, definition_id=definition.pk, actor=editor, steps=ONE_STEP)
    definition.refresh_from_db()
    assert not definition.is_published and definition.step_count == 1


def test_publishing_needs_a_valid_non_empty_definition(org, editor):
    empty = definition_create(organization=org, actor=editor, name="empty")
    with pytest.raises(InvalidInput) as excinfo:
        definition_publish(organization=org, definition_id=empty.pk, actor=editor)
    assert excinfo.value.extra["errors"][0]["code"] == "no_steps"
    with pytest.raises(InvalidInput):
        definition_update(organization=org, definition_id=empty.pk, actor=editor, is_published=True)
    empty.refresh_from_db()
    assert not empty.is_published


def test_names_are_unique_per_organization_in_any_case(org, other_org, editor):
    definition_create(organization=org, actor=editor, **basic(name="Deploy"))
    with pytest.raises(Conflict) as excinfo:
        definition_create(organization=org, actor=editor, **basic(name="deploy"))
    assert excinfo.value.code == "duplicate"
    definition_create(organization=other_org, actor=None, **basic(name="deploy"))


def test_clone_is_a_draft_copy_in_the_organization(org, editor):
    source = definition_create(organization=org, actor=editor, is_template=True, **basic())
    definition_publish(organization=org, definition_id=source.pk, actor=editor)

    first = definition_clone(organization=org, definition_id=source.pk, actor=editor)
    second = definition_clone(organization=org, definition_id=source.pk, actor=editor)
    named = definition_clone(organization=org, definition_id=source.pk, actor=editor, name="mine")

    assert [first.name, second.name, named.name] == ["deploy (Copy)", "deploy (Copy 2)", "mine"]
    for copy in (first, second, named):
        assert not copy.is_published and not copy.is_template and copy.organization == org
        assert definition_export(definition=copy) | {"name": "deploy"} == definition_export(definition=source)
        assert numbers(copy) == [(1, 2)]


def test_export_then_import_as_yaml_text_is_equivalent(org, editor):
    source = definition_create(organization=org, actor=editor, **basic(on_cancel="apply", canary_percentage=25))
    exported = definition_export(definition=source)
    assert set(exported) == {"name", "description", "trigger_type", "default_timeout_seconds", "canary_percentage",
                             "canary_success_threshold", "hold_on_failure", "variables", "start", "on_cancel",
                             "approval_notify", "steps"}

    imported = definition_import(organization=org, actor=editor, definition=yaml.safe_dump(exported), name="again")

    assert definition_export(definition=imported) == exported | {"name": "again"}
    assert not imported.is_published


def test_import_name_collision_is_a_clear_409_and_rename_fixes_it(org, editor):
    definition_create(organization=org, actor=editor, **basic())
    with pytest.raises(Conflict) as excinfo:
        definition_import(organization=org, actor=editor, definition=basic())
    assert excinfo.value.code == "duplicate" and "already exists" in excinfo.value.message
    assert definition_import(organization=org, actor=editor, definition=basic(), name="deploy-2").name == "deploy-2"


@pytest.mark.parametrize(("text", "code"), [
    ("steps: [unclosed", "invalid_definition"),
    ("just text", "invalid_definition"),
    ("base: &a [1]\nname: *a\n", "invalid_definition"),  # aliases are refused
    ('{"name": "x", "steps": [], "n": NaN}', "invalid_definition"),
])
def test_import_rejects_what_is_not_a_definition(org, editor, text, code):
    with pytest.raises(InvalidInput) as excinfo:
        definition_import(organization=org, actor=editor, definition=text)
    assert excinfo.value.code == code
    assert WorkflowDefinition.objects.count() == 0


def test_yaml_timestamps_stay_text(org, editor):
    text = "name: later\nsteps:\n- id: wait\n  type: delay\n  config: {until: 2030-01-02T03:04:05Z}\n"
    definition = definition_import(organization=org, actor=editor, definition=text)
    assert definition.steps[0]["config"]["until"] == "2030-01-02T03:04:05Z"


def test_delete_refuses_a_definition_another_one_starts(org, editor):
    child = definition_create(organization=org, actor=editor, **basic(name="child"))
    parent = definition_create(organization=org, actor=editor, **basic(
        name="parent", steps=[{"id": "run", "type": "workflow", "config": {"workflow": "child"}}]))

    with pytest.raises(Conflict) as excinfo:
        definition_delete(organization=org, definition_id=child.pk, actor=editor)
    assert excinfo.value.code == "definition_in_use" and "parent" in excinfo.value.message

    definition_delete(organization=org, definition_id=parent.pk, actor=editor)
    definition_delete(organization=org, definition_id=child.pk, actor=editor)
    assert not WorkflowDefinition.objects.exists() and not WorkflowVersion.objects.exists()
    assert AuditEvent.objects.filter(action="workflow.delete").count() == 2


def test_snapshot_is_the_latest_version_and_writes_one_when_missing(org, editor):
    definition = WorkflowDefinition.objects.create(organization=org, name="raw", steps=basic()["steps"])

    snapshot, number = definition_snapshot(definition)
    again, same = definition_snapshot(definition)

    assert number == same == 1 and snapshot == again
    assert set(snapshot) == {"name", "description", "steps", "variables", "start", "on_cancel",
                             "default_timeout_seconds", "canary_percentage", "canary_success_threshold",
                             "hold_on_failure", "trigger_type", "approval_notify"}
    WorkflowDefinition.objects.filter(pk=definition.pk).update(description="edited outside the services")
    definition.refresh_from_db()
    snapshot, number = definition_snapshot(definition)
    assert number == 2 and snapshot["description"] == "edited outside the services"


def test_examples_load_published_and_idempotent(org):
    loaded = examples_load(organization=org)
    again = examples_load(organization=org)

    names = sorted(d.name for d in loaded)
    assert names == ["config-deploy", "health-check", "multi-deploy", "patch-canary", "rotate-service-password"]
    assert [d.pk for d in loaded] == [d.pk for d in again]
    assert all(d.is_published for d in WorkflowDefinition.objects.filter(organization=org))
    assert WorkflowVersion.objects.count() == 5


def test_load_examples_command(org, capsys):
    call_command("load_examples", "--org", org.slug)
    call_command("load_examples", "--org", org.slug)
    assert WorkflowDefinition.objects.filter(organization=org).count() == 5
    assert "multi-deploy" in capsys.readouterr().out


def test_create_accepts_the_contract_format_as_data(org, editor):
    definition = definition_create(organization=org, actor=editor, data=basic(), description="from fields")
    assert definition.name == "deploy" and definition.description == "from fields" and definition.step_count == 2
    with pytest.raises(InvalidInput):
        definition_create(organization=org, actor=editor, data=basic(name="other", owner="me"))


def test_a_rename_that_would_break_a_parent_is_refused_one_by_id_is_not(org, editor):
    child = definition_create(organization=org, actor=editor, **basic(name="child"))
    parent = definition_create(organization=org, actor=editor, **basic(
        name="parent", steps=[{"id": "run", "type": "workflow", "config": {"workflow": "Child"}}]))

    with pytest.raises(Conflict) as excinfo:
        definition_update(organization=org, definition_id=child.pk, actor=editor, name="renamed-child")
    assert excinfo.value.code == "definition_in_use"
    assert "parent" in excinfo.value.message and f"id {child.pk}" in excinfo.value.message
    child.refresh_from_db()
    assert child.name == "child"
    definition_update(organization=org, definition_id=child.pk, actor=editor, name="CHILD")  # same name, other case

    definition_update(organization=org, definition_id=parent.pk, actor=editor,
                      steps=[{"id": "run", "type": "workflow", "config": {"workflow": child.pk}}])
    definition_update(organization=org, definition_id=child.pk, actor=editor, name="renamed-child")
    child.refresh_from_db()
    assert child.name == "renamed-child"
