"""The /api/workflows/ endpoints: CRUD, publish, versions, clone, export/import, templates,
search and filters, and the permission matrix of DESIGN §7."""

from __future__ import annotations

import json

import pytest
import yaml

from apps.accounts.roles import Role
from apps.workflows.models import WorkflowDefinition
from apps.workflows.services import definition_create
from tests.workflows.conftest import basic, example

pytestmark = pytest.mark.django_db
URL = "/api/workflows/"


def test_create_read_update_delete(editor_api):
    created = editor_api.post(URL, basic(), format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["name"] == "deploy" and body["version"] == 1 and body["step_count"] == 2
    assert body["is_published"] is False and body["start"] is None and body["created_by"] == "editor"
    assert body["validation"] == {"errors": [], "warnings": []}
    detail = f"{URL}{body['id']}/"

    assert editor_api.get(detail).json()["steps"] == basic()["steps"]
    patched = editor_api.patch(detail, {"description": "nightly", "canary_percentage": 20}, format="json").json()
    assert patched["description"] == "nightly" and patched["canary_percentage"] == 20 and patched["version"] == 2
    put = editor_api.put(detail, basic(name="deploy-2"), format="json").json()
    assert put["name"] == "deploy-2" and put["description"] == "" and put["version"] == 3

    assert editor_api.delete(detail).status_code == 204
    assert editor_api.get(detail).status_code == 404


def test_validation_errors_are_400_with_paths_and_nothing_is_saved(editor_api):
    data = basic()
    data["steps"][1]["on_success"] = "nowhere"
    data["steps"].append({"id": "island", "type": "command", "config": {"command": "true"}})

    response = editor_api.post(URL, data, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_definition" and "nowhere" in body["detail"]
    assert [(e["path"], e["code"]) for e in body["errors"]] == [("steps[1].on_success", "unknown_step")]
    assert [(w["path"], w["code"]) for w in body["warnings"]] == [("steps[2]", "unreachable")]
    assert WorkflowDefinition.objects.count() == 0


def test_warnings_come_back_with_a_saved_definition(editor_api):
    data = basic()
    data["steps"].append({"id": "island", "type": "command", "config": {"command": "true"}})
    response = editor_api.post(URL, data, format="json")
    assert response.status_code == 201
    assert [w["code"] for w in response.json()["validation"]["warnings"]] == ["unreachable"]


def test_publish_makes_it_immutable(editor_api):
    definition_id = editor_api.post(URL, basic(), format="json").json()["id"]
    detail = f"{URL}{definition_id}/"

    published = editor_api.post(f"{detail}publish/", format="json")
    assert published.status_code == 200 and published.json()["is_published"] is True
    assert editor_api.post(f"{detail}publish/", {}, format="json").status_code == 200  # again: harmless

    refused = editor_api.patch(detail, {"steps": []}, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "definition_published"
    assert "steps" in refused.json()["detail"]
    assert editor_api.patch(detail, {"is_active": False}, format="json").status_code == 200
    assert editor_api.get(detail).json()["steps"] == basic()["steps"]


def test_publish_of_an_empty_draft_is_400(editor_api):
    definition_id = editor_api.post(URL, {"name": "empty"}, format="json").json()["id"]
    response = editor_api.post(f"{URL}{definition_id}/publish/", format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "no_steps"


def test_versions_list_and_detail(editor_api):
    definition_id = editor_api.post(URL, basic(), format="json").json()["id"]
    editor_api.patch(f"{URL}{definition_id}/", {"description": "v2"}, format="json")
    editor_api.post(f"{URL}{definition_id}/publish/", format="json")

    versions = editor_api.get(f"{URL}{definition_id}/versions/").json()
    assert versions["count"] == 3
    assert [(v["number"], v["step_count"], v["actor"]) for v in versions["results"]] == [
        (3, 2, "editor"), (2, 2, "editor"), (1, 2, "editor")]
    second = editor_api.get(f"{URL}{definition_id}/versions/2/").json()
    assert second["snapshot"]["description"] == "v2" and second["number"] == 2
    assert editor_api.get(f"{URL}{definition_id}/versions/9/").status_code == 404


def test_clone_export_import_round_trip(editor_api):
    source = editor_api.post(URL, basic(is_template=True), format="json").json()

    clone = editor_api.post(f"{URL}{source['id']}/clone/", format="json")
    assert clone.status_code == 201
    assert clone.json()["name"] == "deploy (Copy)" and clone.json()["is_template"] is False

    exported = editor_api.get(f"{URL}{source['id']}/export/")
    assert exported.status_code == 200
    assert exported["Content-Disposition"] == 'attachment; filename="deploy.json"'
    document = exported.json()
    assert "id" not in document and document["steps"] == basic()["steps"]

    conflict = editor_api.post(f"{URL}import/", {"definition": document}, format="json")
    assert conflict.status_code == 409 and conflict.json()["code"] == "duplicate"
    as_yaml = editor_api.post(f"{URL}import/", {"definition": yaml.safe_dump(document), "name": "from-yaml"},
                              format="json")
    as_json = editor_api.post(f"{URL}import/", {"definition": json.dumps(document), "name": "from-json"},
                              format="json")
    for response, name in ((as_yaml, "from-yaml"), (as_json, "from-json")):
        assert response.status_code == 201, response.json()
        assert response.json()["is_published"] is False
        again = editor_api.get(f"{URL}{response.json()['id']}/export/").json()
        assert again == document | {"name": name}


def test_import_of_an_invalid_document_is_400(editor_api):
    response = editor_api.post(f"{URL}import/", {"definition": "name: x\nsteps: 5\n"}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["path"] == "steps"
    response = editor_api.post(f"{URL}import/", {"definition": "- not\n- a mapping\n"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid_definition"


def test_list_filters_search_and_template_library(org, editor_api):
    definition_create(organization=org, actor=None, is_template=True, **basic(name="patch-template"))
    definition_create(organization=org, actor=None, is_published=True, **basic(
        name="nightly", description="rotates the logs", trigger_type="schedule"))
    definition_create(organization=org, actor=None, is_active=False, **basic(name="old"))

    def names(query):
        response = editor_api.get(URL + query)
        assert response.status_code == 200, response.json()
        return [row["name"] for row in response.json()["results"]]

    assert names("") == ["nightly", "old", "patch-template"]
    assert names("?q=LOGS") == ["nightly"] and names("?search=patch") == ["patch-template"]
    assert names("?is_published=true") == ["nightly"] and names("?is_active=false") == ["old"]
    assert names("?is_template=true") == ["patch-template"] and names("?trigger_type=schedule") == ["nightly"]
    assert names("?ordering=-name&page_size=1") == ["patch-template"]
    templates = editor_api.get(f"{URL}templates/?is_template=false&q=nothing&page_size=1")
    assert [row["name"] for row in templates.json()] == ["patch-template"]
    assert editor_api.get(URL + "?trigger_type=cron").status_code == 400


def test_delete_of_a_child_in_use_is_409(org, editor_api):
    definition_create(organization=org, actor=None, **example("config-deploy"))
    definition_create(organization=org, actor=None, **example("multi-deploy"))
    child = WorkflowDefinition.objects.get(name="config-deploy")
    response = editor_api.delete(f"{URL}{child.pk}/")
    assert response.status_code == 409 and response.json()["code"] == "definition_in_use"


@pytest.mark.parametrize(("role", "allowed"), [
    (Role.VIEWER, {"list", "retrieve", "versions", "export", "templates"}),
    (Role.OPERATOR, {"list", "retrieve", "versions", "export", "templates", "simulate"}),
    (Role.EDITOR, {"list", "retrieve", "versions", "export", "templates", "simulate", "create", "update",
                   "publish", "clone", "import", "delete"}),
])
def test_permission_matrix(org, make_member, api, role, allowed):
    client = api(make_member(org, role, f"user-{role}"), org)
    definition = definition_create(organization=org, actor=None, **basic())
    detail = f"{URL}{definition.pk}/"
    requests = {
        "list": ("get", URL, None),
        "retrieve": ("get", detail, None),
        "versions": ("get", f"{detail}versions/", None),
        "export": ("get", f"{detail}export/", None),
        "templates": ("get", f"{URL}templates/", None),
        "simulate": ("post", f"{detail}simulate/", {}),
        "create": ("post", URL, basic(name="new")),
        "update": ("patch", detail, {"description": "x"}),
        "clone": ("post", f"{detail}clone/", {}),
        "import": ("post", f"{URL}import/", {"definition": basic(name="imported")}),
        "publish": ("post", f"{detail}publish/", {}),
        "delete": ("delete", detail, None),
    }
    for name, (method, url, data) in requests.items():
        response = getattr(client, method)(url, data, format="json")
        if name in allowed:
            assert response.status_code < 300, (name, response.status_code, response.content[:300])
        else:
            assert response.status_code == 403, (name, response.status_code)
            assert response.json()["code"] == "permission_denied"


def test_other_organizations_definitions_are_invisible(org, other_org, editor_api):
    foreign = definition_create(organization=other_org, actor=None, is_template=True, **basic(name="foreign"))
    assert editor_api.get(f"{URL}{foreign.pk}/").status_code == 404
    assert editor_api.post(f"{URL}{foreign.pk}/clone/", format="json").status_code == 404
    assert editor_api.get(f"{URL}{foreign.pk}/versions/1/").status_code == 404
    assert editor_api.get(URL).json()["count"] == 0 and editor_api.get(f"{URL}templates/").json() == []


@pytest.mark.parametrize("body", [
    "[" * 100_000 + "]" * 100_000,
    '{"name": "x", "steps": ' + "[" * 5000 + "]" * 5000 + "}",
    '{"name": "x", "steps": ' + "[" * 200 + "]" * 200 + "}",
    '{"name": "x", "description": "\\ud800"}',
    '{"name": "x\\u0000"}',
    '{"name": "x", "steps": [{"id": "a", "type": "command", "config": {"command": "\\u0000"}}]}',
    '{"name": "x", "canary_percentage": NaN}',
])
def test_hostile_bodies_are_clear_400s(editor_api, body):
    response = editor_api.post(URL, body, content_type="application/json")
    assert response.status_code == 400 and response.json()["detail"] and response.json()["code"]
    assert WorkflowDefinition.objects.count() == 0


@pytest.mark.parametrize("text", ["a: " + "[" * 5000, "- " * 3000 + "x", '{"name": 1e999}'])
def test_hostile_import_documents_are_clear_400s(editor_api, text):
    response = editor_api.post(f"{URL}import/", {"definition": text}, format="json")
    assert response.status_code == 400 and response.json()["detail"]


def test_list_query_count_does_not_grow_with_rows(org, editor_api, django_assert_max_num_queries):
    definition_create(organization=org, actor=None, **basic(name="first"))
    editor_api.get(URL)  # warm up: token and membership lookups
    with django_assert_max_num_queries(6) as few:
        assert editor_api.get(URL).json()["count"] == 1
    for index in range(10):
        definition_create(organization=org, actor=None, **basic(name=f"more-{index}"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert editor_api.get(URL).json()["count"] == 11
