"""Workflow admin: saves go through the services; versions are read-only history."""

from __future__ import annotations

import json

import pytest

from apps.audit.models import AuditEvent
from apps.workflows.models import WorkflowDefinition
from apps.workflows.services import definition_create, definition_publish
from tests.workflows.conftest import basic

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_browser(client, superuser):
    client.force_login(superuser)
    return client


def form(org, **overrides):
    data = basic()
    return {"organization": org.pk, "name": data["name"], "description": "", "trigger_type": "manual",
            "default_timeout_seconds": "", "canary_percentage": "", "canary_success_threshold": "80",
            "variables": json.dumps(data["variables"]), "start": "", "on_cancel": "",
            "steps": json.dumps(data["steps"]), "is_active": "on", **overrides}


def test_pages_render(admin_browser, org):
    definition = definition_create(organization=org, actor=None, **basic())
    for page in ("/admin/workflows/workflowdefinition/", "/admin/workflows/workflowdefinition/add/",
                 f"/admin/workflows/workflowdefinition/{definition.pk}/change/", "/admin/workflows/workflowversion/",
                 "/admin/workflows/workflowdefinition/?is_published__exact=0&q=dep"):
        assert admin_browser.get(page).status_code == 200, page


def test_add_goes_through_the_service(admin_browser, org):
    response = admin_browser.post("/admin/workflows/workflowdefinition/add/", form(org))

    assert response.status_code == 302, response.content.decode()[:2000]
    definition = WorkflowDefinition.objects.get()
    assert definition.steps == basic()["steps"] and definition.versions.count() == 1
    assert AuditEvent.objects.filter(action="workflow.create").count() == 1


def test_invalid_steps_are_form_errors_and_nothing_is_saved(admin_browser, org):
    steps = basic()["steps"]
    steps[0]["on_success"] = "nowhere"
    response = admin_browser.post("/admin/workflows/workflowdefinition/add/", form(org, steps=json.dumps(steps)))

    assert response.status_code == 200
    assert "steps[0].on_success" in response.content.decode()
    assert not WorkflowDefinition.objects.exists()


def test_published_definition_cannot_be_edited(admin_browser, org):
    definition = definition_create(organization=org, actor=None, **basic())
    definition_publish(organization=org, definition_id=definition.pk, actor=None)
    url = f"/admin/workflows/workflowdefinition/{definition.pk}/change/"

    response = admin_browser.post(url, form(org, description="changed", is_published="on"))

    assert response.status_code == 200 and "is published" in response.content.decode()
    definition.refresh_from_db()
    assert definition.description == "" and definition.versions.count() == 2


def test_versions_are_read_only(admin_browser, org):
    definition = definition_create(organization=org, actor=None, **basic())
    version = definition.versions.get()
    assert admin_browser.get("/admin/workflows/workflowversion/add/").status_code == 403
    assert admin_browser.post(f"/admin/workflows/workflowversion/{version.pk}/delete/", {"post": "yes"}).status_code \
        == 403
