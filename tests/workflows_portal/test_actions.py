"""Row actions and import on the Workflows page: clone, export, import, delete — each
through the services, with permissions and tenancy."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.workflows.formats import MAX_IMPORT_CHARS
from apps.workflows.models import WorkflowDefinition
from apps.workflows.services import definition_export
from tests.workflows.conftest import basic, example

pytestmark = pytest.mark.django_db

IMPORT = reverse("workflows:definition-import")


def url(name: str, definition) -> str:
    return reverse(f"workflows:{name}", args=[definition.pk])


def flashes(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- clone -------------------------------------------------------------------------------------
def test_clone_makes_a_draft_copy_and_opens_it(as_user, editor, examples, org):
    source = examples["patch-canary"]
    response = as_user(editor).post(url("definition-clone", source), follow=True)
    copy = WorkflowDefinition.objects.get(organization=org, name="patch-canary (Copy)")
    assert response.redirect_chain == [(url("definition-edit", copy), 302)]
    assert not copy.is_published and not copy.is_template and copy.steps == source.steps
    assert "Cloned 'patch-canary' as 'patch-canary (Copy)', a draft." in flashes(response)


def test_clone_needs_create_permission_and_a_post(as_user, operator, viewer, draft):
    assert as_user(viewer).post(url("definition-clone", draft)).status_code == 403
    assert as_user(operator).post(url("definition-clone", draft)).status_code == 403
    assert as_user(operator).get(url("definition-clone", draft)).status_code == 405
    assert WorkflowDefinition.objects.filter(name__startswith="deploy-draft (Copy").count() == 0


def test_clone_of_another_organizations_definition_is_404(as_user, editor, foreign):
    assert as_user(editor).post(url("definition-clone", foreign)).status_code == 404
    assert WorkflowDefinition.objects.filter(name__contains="(Copy)").count() == 0


# --- export ------------------------------------------------------------------------------------
def test_export_downloads_the_contract_json(as_user, viewer, examples):
    definition = examples["rotate-service-password"]
    response = as_user(viewer).get(url("definition-export", definition))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == 'attachment; filename="rotate-service-password.json"'
    data = json.loads(response.content)
    assert data == definition_export(definition=definition)
    assert data["steps"] == example("rotate-password")["steps"]
    assert "id" not in data and "is_published" not in data and "versions" not in data


def test_export_of_another_organizations_definition_is_404(as_user, editor, foreign):
    assert as_user(editor).get(url("definition-export", foreign)).status_code == 404


# --- import ------------------------------------------------------------------------------------
def test_import_pasted_json_with_a_name_override(as_user, editor, org):
    text = json.dumps(example("patch-canary"))
    response = as_user(editor).post(IMPORT, {"text": text, "name": "patch-canary-2"}, follow=True)
    imported = WorkflowDefinition.objects.get(organization=org, name="patch-canary-2")
    assert response.redirect_chain == [(url("definition-edit", imported), 302)]
    assert "Imported 'patch-canary-2' as a draft." in flashes(response)
    assert not imported.is_published and imported.steps == example("patch-canary")["steps"]
    assert imported.canary_percentage == 10 and imported.created_by == editor


def test_import_a_yaml_file(as_user, editor, org):
    upload = SimpleUploadedFile("flow.yaml", yaml.safe_dump(basic(name="from-yaml")).encode(), "application/yaml")
    response = as_user(editor).post(IMPORT, {"file": upload})
    imported = WorkflowDefinition.objects.get(organization=org, name="from-yaml")
    assert response.status_code == 302 and imported.steps == basic()["steps"]


def test_export_then_import_is_an_equivalent_draft(as_user, editor, examples, org):
    client = as_user(editor)
    exported = client.get(url("definition-export", examples["patch-canary"])).content
    upload = SimpleUploadedFile("patch-canary.json", exported, "application/json")
    assert client.post(IMPORT, {"file": upload, "name": "patch-canary-again"}).status_code == 302
    again = WorkflowDefinition.objects.get(organization=org, name="patch-canary-again")
    assert {**definition_export(definition=again), "name": "patch-canary"} == json.loads(exported)
    assert not again.is_published


def test_import_under_a_taken_name_says_to_choose_another(as_user, editor, draft):
    response = as_user(editor).post(IMPORT, {"text": json.dumps(basic(name="DEPLOY-DRAFT"))})
    assert response.status_code == 409
    html = response.content.decode()
    assert "A workflow named &#x27;DEPLOY-DRAFT&#x27; already exists; choose another name." in html
    assert '<details class="panel import-panel" id="import" open>' in html
    assert WorkflowDefinition.objects.filter(name__iexact="deploy-draft").count() == 1


def test_import_of_an_invalid_definition_lists_each_error_and_saves_nothing(as_user, editor, org):
    broken = basic(name="broken")
    broken["steps"][0]["on_success"] = "nowhere"
    del broken["steps"][1]["config"]["body"]
    response = as_user(editor).post(IMPORT, {"text": json.dumps(broken)})
    html = response.content.decode()
    assert response.status_code == 400
    # Each error is listed with the path of the field it concerns.
    assert re.search(r"<li>steps\[0\]\.on_success: [^<]*&#x27;nowhere&#x27;[^<]*</li>", html)
    assert re.search(r"<li>steps\[1\]\.config\.body: [^<]*body is required\.</li>", html)
    assert not WorkflowDefinition.objects.filter(organization=org, name="broken").exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Choose a file or paste a definition to import."),
        ({"text": "{name: [unclosed"}, "neither valid JSON nor valid YAML"),
        ({"text": "- just\n- a list\n"}, "The definition must be a JSON or YAML object."),
        ({"text": "name: x", "file": "both"}, "Give a file or pasted text, not both."),
        ({"file": b"\xff\xfe\x00bad"}, "The file is not UTF-8 text."),
    ],
)
def test_bad_import_input_is_a_400_with_a_message(as_user, editor, data, message):
    if "file" in data:
        content = data["file"] if isinstance(data["file"], bytes) else b"name: y"
        data = {**data, "file": SimpleUploadedFile("x.yaml", content)}
    response = as_user(editor).post(IMPORT, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert WorkflowDefinition.objects.count() == 0


def test_import_file_too_large_is_refused(as_user, editor):
    upload = SimpleUploadedFile("big.json", b" " * (MAX_IMPORT_CHARS * 4 + 1))
    response = as_user(editor).post(IMPORT, {"file": upload})
    assert response.status_code == 400 and "The file is larger than" in response.content.decode()


def test_import_needs_create_permission(as_user, operator):
    response = as_user(operator).post(IMPORT, {"text": json.dumps(basic(name="nope"))})
    assert response.status_code == 403
    assert not WorkflowDefinition.objects.filter(name="nope").exists()


# --- delete ------------------------------------------------------------------------------------
def test_delete_asks_first_then_deletes_on_post(as_user, editor, draft):
    client = as_user(editor)
    confirm = client.get(url("definition-delete", draft))
    html = confirm.content.decode()
    assert confirm.status_code == 200 and "Delete workflow “deploy-draft”?" in html
    assert f'<form method="post" action="{url("definition-delete", draft)}"' in html
    assert WorkflowDefinition.objects.filter(pk=draft.pk).exists()
    response = client.post(url("definition-delete", draft), follow=True)
    assert response.redirect_chain == [(reverse("workflows:definition-list"), 302)]
    assert "Deleted workflow 'deploy-draft'." in flashes(response)
    assert not WorkflowDefinition.objects.filter(pk=draft.pk).exists()


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_only_those_who_may_delete_can(as_user, request, draft, role):
    client = as_user(request.getfixturevalue(role))
    assert client.get(url("definition-delete", draft)).status_code == 403
    assert client.post(url("definition-delete", draft)).status_code == 403
    assert WorkflowDefinition.objects.filter(pk=draft.pk).exists()


def test_delete_of_another_organizations_definition_is_404(as_user, editor, foreign):
    assert as_user(editor).post(url("definition-delete", foreign)).status_code == 404
    assert WorkflowDefinition.objects.filter(pk=foreign.pk).exists()


def test_delete_of_a_workflow_another_one_starts_is_refused_with_a_message(as_user, editor, examples):
    child = examples["config-deploy"]
    response = as_user(editor).post(url("definition-delete", child), follow=True)
    assert "is started by multi-deploy; change those first." in " ".join(flashes(response))
    assert WorkflowDefinition.objects.filter(pk=child.pk).exists()


def test_unsafe_methods_are_refused(as_user, editor, draft):
    client = as_user(editor)
    assert client.get(IMPORT).status_code == 405
    assert client.put(url("definition-delete", draft)).status_code == 405
    assert WorkflowDefinition.objects.filter(pk=draft.pk).exists()


# --- unpublish, deactivate, activate (DESIGN §4: the flags that still change once published) -----
def test_unpublish_then_deactivate_and_activate_from_the_list(as_user, editor, examples):
    definition = examples["config-deploy"]
    client = as_user(editor)
    html = client.get(reverse("workflows:definition-list")).content.decode()
    assert f'action="{url("definition-unpublish", definition)}"' in html
    assert f'action="{url("definition-deactivate", definition)}"' in html

    response = client.post(url("definition-unpublish", definition), follow=True)
    assert response.redirect_chain == [(reverse("workflows:definition-list"), 302)]
    assert "Unpublished 'config-deploy': it is a draft again and can be edited." in flashes(response)
    definition.refresh_from_db()
    assert definition.is_published is False and definition.is_active is True

    response = client.post(url("definition-deactivate", definition), {"next": "/workflows/?q=config"}, follow=True)
    assert response.redirect_chain == [("/workflows/?q=config", 302)]  # back to the same search
    assert "Deactivated 'config-deploy': it cannot be started until it is activated again." in flashes(response)
    definition.refresh_from_db()
    assert definition.is_active is False
    assert f'action="{url("definition-activate", definition)}"' in response.content.decode()

    client.post(url("definition-activate", definition))
    definition.refresh_from_db()
    assert definition.is_active is True
    events = AuditEvent.objects.filter(action="workflow.update", target_id=str(definition.pk)).order_by("id")
    assert [(e.actor, e.data["changed"]) for e in events] == [
        (editor, ["is_published"]), (editor, ["is_active"]), (editor, ["is_active"])]


def test_a_repeated_flag_change_is_harmless(as_user, editor, examples):
    definition = examples["config-deploy"]
    client = as_user(editor)
    for _ in range(2):
        response = client.post(url("definition-deactivate", definition), follow=True)
        assert response.status_code == 200
    assert AuditEvent.objects.filter(action="workflow.update", target_id=str(definition.pk)).count() == 1


def test_a_next_elsewhere_is_ignored(as_user, editor, examples):
    response = as_user(editor).post(url("definition-deactivate", examples["config-deploy"]),
                                    {"next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == reverse("workflows:definition-list")


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_only_editors_change_the_flags(as_user, request, examples, role):
    definition = examples["config-deploy"]
    client = as_user(request.getfixturevalue(role))
    html = client.get(reverse("workflows:definition-list")).content.decode()
    assert "Unpublish" not in html and "Deactivate" not in html
    for name in ("definition-unpublish", "definition-deactivate", "definition-activate"):
        assert client.post(url(name, definition)).status_code == 403
        assert client.get(url(name, definition)).status_code in (403, 405)
    definition.refresh_from_db()
    assert definition.is_published and definition.is_active


def test_flags_of_another_organizations_definition_are_404(as_user, editor, foreign):
    assert as_user(editor).post(url("definition-deactivate", foreign)).status_code == 404
    foreign.refresh_from_db()
    assert foreign.is_active
