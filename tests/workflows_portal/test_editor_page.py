"""The editor page: what it is given (definition, schema from the step catalogue,
validation, API URLs), who may change what, tenancy, the source view's endpoint, and
saving through the REST API with the session and its CSRF token."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from django.test import Client
from django.urls import reverse

from apps.steps.registry import step_type, type_names
from apps.workflows.formats import CONTENT_FIELDS
from apps.workflows.models import WorkflowDefinition
from apps.workflows.services import definition_create, definition_export
from tests.conftest import PASSWORD
from tests.workflows.conftest import basic, example

pytestmark = pytest.mark.django_db

NEW = reverse("workflows:definition-new")
SOURCE = reverse("workflows:source")
DEEP: list = [1]
for _ in range(40):
    DEEP = [DEEP]


def edit_url(definition) -> str:
    return reverse("workflows:definition-edit", args=[definition.pk])


def editor_data(response) -> dict:
    match = re.search(
        r'<script id="editor-data" type="application/json">(.*?)</script>', response.content.decode(), re.S
    )
    return json.loads(match.group(1))


def test_new_page_starts_an_empty_editable_draft(as_user, editor):
    response = as_user(editor).get(NEW)
    data = editor_data(response)
    assert response.status_code == 200
    assert data["id"] is None and data["editable"] and data["mode"] == "steps"
    assert data["definition"]["name"] == "" and data["definition"]["steps"] == []
    assert set(data["definition"]) == set(CONTENT_FIELDS)
    assert data["flags"] == {"is_active": True, "is_published": False, "is_template": False}
    assert data["urls"]["create"] == reverse("workflow-list")
    html = response.content.decode()
    assert 'id="save-button"' in html
    for absent in ('id="publish-button"', 'id="versions-button"', 'id="simulate-button"'):
        assert absent not in html  # nothing to publish, list or simulate before the first save


def test_starter_modes(as_user, editor):
    client = as_user(editor)
    assert editor_data(client.get(NEW, {"mode": "visual"}))["mode"] == "visual"
    template = client.get(NEW, {"template": "1"})
    assert editor_data(template)["flags"]["is_template"] is True
    assert "New template" in template.content.decode()


def test_new_page_needs_create_permission(as_user, operator):
    assert as_user(operator).get(NEW).status_code == 403


def test_schema_comes_from_the_step_catalogue(as_user, editor):
    schema = editor_data(as_user(editor).get(NEW))["schema"]
    by_type = {kind["type"]: kind for kind in schema["steps"]}
    assert list(by_type) == type_names()
    for name, kind in by_type.items():
        assert [field["key"] for field in kind["fields"]] == list(step_type(name).config_schema)
    command = {field["key"]: field for field in by_type["command"]["fields"]}["command"]
    assert command["required"] and command["widget"] == "textarea"
    approval = {field["key"]: field for field in by_type["approval"]["fields"]}
    assert approval["on_timeout"]["choices"] == ["reject", "approve", "fail", "skip"]
    assert approval["approvers"]["widget"] == "lines" and approval["plan_from"]["widget"] == "step"
    branches = {field["key"]: field for field in by_type["conditional"]["fields"]}["branches"]
    assert [sub["key"] for sub in branches["item_fields"]] == ["when", "next"]
    assert "max_parallel" in [o["key"] for o in by_type["script"]["options"]]
    assert "max_parallel" not in [o["key"] for o in by_type["approval"]["options"]]
    settings = [field["key"] for field in schema["settings"]]
    for key in (
        "name",
        "default_timeout_seconds",
        "canary_percentage",
        "canary_success_threshold",
        "trigger_type",
        "hold_on_failure",
    ):
        assert key in settings


def test_edit_page_of_a_draft_for_an_editor(as_user, editor, draft):
    response = as_user(editor).get(edit_url(draft))
    data = editor_data(response)
    assert data["id"] == draft.pk and data["editable"]
    assert data["definition"] == definition_export(definition=draft)
    assert data["urls"]["detail"] == reverse("workflow-detail", args=[draft.pk])
    assert data["urls"]["publish"] == reverse("workflow-publish", args=[draft.pk])
    assert data["urls"]["simulate"] == reverse("workflow-simulate", args=[draft.pk])
    html = response.content.decode()
    for control in (
        'id="save-button"',
        'id="publish-button"',
        'id="publish-dialog"',
        'id="versions-button"',
        'id="simulate-button"',
    ):
        assert control in html
    assert '<span class="badge badge-draft">draft</span>' in html


def test_published_definition_is_read_only_with_a_badge(as_user, editor, examples):
    response = as_user(editor).get(edit_url(examples["patch-canary"]))
    data = editor_data(response)
    html = response.content.decode()
    assert not data["editable"]
    assert '<span class="badge badge-published">published</span>' in html
    assert "This workflow is published, so it is read-only." in html
    assert 'id="save-button"' not in html and 'id="publish-button"' not in html
    assert '<fieldset class="plain" disabled>' in html and "readonly" in html
    assert 'id="active-button"' in html  # only is_active may still change


@pytest.mark.parametrize(
    ("role", "simulate", "save"),
    [("viewer", False, False), ("operator", True, False), ("editor", True, True)],
)
def test_controls_follow_the_role(as_user, request, draft, role, simulate, save):
    response = as_user(request.getfixturevalue(role)).get(edit_url(draft))
    html = response.content.decode()
    assert editor_data(response)["editable"] is save
    assert ('<fieldset class="plain" disabled>' in html) is not save
    assert ('id="simulate-button"' in html) is simulate
    assert ('id="save-button"' in html) is save
    assert ('id="publish-button"' in html) is save
    assert 'id="versions-button"' in html


def test_stored_problems_are_shown_on_open(as_user, org, editor):
    data = basic(name="loose-ends")
    data["steps"].append({"id": "orphan", "type": "command", "config": {"command": "true"}})
    definition = definition_create(organization=org, actor=editor, **data)
    validation = editor_data(as_user(editor).get(edit_url(definition)))["validation"]
    assert validation["errors"] == []
    assert [(w["path"], w["code"]) for w in validation["warnings"]] == [("steps[2]", "unreachable")]


def test_another_organizations_definition_is_404(as_user, editor, foreign):
    response = as_user(editor).get(edit_url(foreign))
    assert response.status_code == 404
    assert foreign.name not in response.content.decode()
    assert as_user(editor).get(reverse("workflows:definition-edit", args=[999999])).status_code == 404


# --- the source view's endpoint ------------------------------------------------------------------
def post_json(client, body) -> tuple[int, dict]:
    response = client.post(SOURCE, body if isinstance(body, str) else json.dumps(body), content_type="application/json")
    return response.status_code, response.json()


def test_source_yaml_round_trip(as_user, viewer):
    client = as_user(viewer)
    document = example("rotate-password")
    status, answer = post_json(client, {"definition": document})
    assert status == 200 and "body: |" in answer["text"]  # multi-line scripts read as blocks
    assert post_json(client, {"text": answer["text"]}) == (200, {"definition": document})
    assert post_json(client, {"text": json.dumps(document)}) == (200, {"definition": document})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"text": "name: [unclosed"}, "neither valid JSON nor valid YAML"),
        ({"text": "- a\n- b"}, "must be a JSON or YAML object"),
        ({"text": "a: &x 1\nb: *x"}, "aliases"),
        ({"text": "s: !!set {a, b}"}, "is not a JSON value"),
        ({"text": "x: .nan"}, "numbers must be finite"),
        ({"text": "1: c"}, "has a key that is not a valid string"),
        ({"nothing": 1}, "Send a JSON object with 'text' or 'definition'."),
        ("[1, 2]", "Send a JSON object with 'text' or 'definition'."),
        ("{not json", "The request body must be JSON."),
        ('{"text": 1, "definition": ' + "[" * 50_000 + "]" * 50_000 + "}", "The request body must be JSON."),
        ({"definition": {"a": DEEP}}, "levels deep"),
    ],
)
def test_source_bad_input_is_a_clear_400(as_user, viewer, body, message):
    status, answer = post_json(as_user(viewer), body)
    assert status == 400 and message in answer["detail"]


def test_source_needs_login_csrf_and_post(client, viewer):
    assert client.post(SOURCE, "{}", content_type="application/json").status_code == 302
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(viewer)
    assert strict.post(SOURCE, json.dumps({"text": "a: 1"}), content_type="application/json").status_code == 403
    client.force_login(viewer)
    assert client.get(SOURCE).status_code == 405


# --- saving: the editor's browser code uses the REST API with the session ------------------------
def test_session_and_csrf_token_save_through_the_api(editor, draft):
    client = Client(enforce_csrf_checks=True)
    assert client.login(username=editor.username, password=PASSWORD)
    page = client.get(edit_url(draft))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    detail = editor_data(page)["urls"]["detail"]
    document = {**definition_export(definition=draft), "description": "changed in the editor", "is_template": True}
    headers = {"HTTP_X_ORGANIZATION": "acme"}
    refused = client.put(detail, json.dumps(document), content_type="application/json", **headers)
    assert refused.status_code == 403
    saved = client.put(detail, json.dumps(document), content_type="application/json", HTTP_X_CSRFTOKEN=token, **headers)
    assert saved.status_code == 200, saved.content
    draft.refresh_from_db()
    assert draft.description == "changed in the editor" and draft.is_template
    assert saved.json()["version"] == 2


def test_viewer_cannot_save_or_publish_through_the_api(viewer, draft):
    client = Client()
    client.force_login(viewer)
    body = json.dumps({**definition_export(definition=draft), "description": "nope"})
    assert (
        client.put(reverse("workflow-detail", args=[draft.pk]), body, content_type="application/json").status_code
        == 403
    )
    assert client.post(reverse("workflow-publish", args=[draft.pk])).status_code == 403
    assert not WorkflowDefinition.objects.get(pk=draft.pk).is_published


def test_yaml_text_is_a_source_the_parser_accepts(as_user, viewer):
    status, answer = post_json(as_user(viewer), {"definition": {"name": "x", "description": "a\nb  \n"}})
    assert status == 200 and yaml.safe_load(answer["text"]) == {"name": "x", "description": "a\nb  \n"}
