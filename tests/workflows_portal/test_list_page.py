"""The Workflows landing page: the table, search, pagination, permissions, the template
library fragment, the Run link and the navigation entry."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.workflows.services import definition_create
from tests.inventory.factories import HostFactory
from tests.workflows.conftest import basic

pytestmark = pytest.mark.django_db

LIST = reverse("workflows:definition-list")
LIBRARY = reverse("workflows:template-library")


def names(response) -> list[str]:
    return [definition.name for definition in response.context["page_obj"].object_list]


def test_table_lists_this_organizations_definitions(as_user, operator, examples, draft, foreign):
    response = as_user(operator).get(LIST)
    assert response.status_code == 200
    assert names(response) == sorted([*examples, draft.name])
    html = response.content.decode()
    assert foreign.name not in html
    row = re.search(rf'<tr data-definition="{draft.pk}">(.*?)</tr>', html, re.S).group(1)
    assert '<span class="badge badge-draft">draft</span>' in row
    assert ">Manual<" in row and '<td class="num">2</td>' in row
    published = re.search(rf'<tr data-definition="{examples["patch-canary"].pk}">(.*?)</tr>', html, re.S).group(1)
    assert '<span class="badge badge-published">published</span>' in published
    assert '<td class="num">5</td>' in published


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "CANARY"}, ["patch-canary"]),
        ({"q": "roll out"}, ["deploy-draft"]),  # the description
        ({"q": "web-1"}, []),  # definitions only, never hosts
        ({"q": "globex"}, []),  # another organization's definition
        ({"is_published": "false"}, ["deploy-draft"]),
        ({"is_published": "true", "q": "deploy"}, ["config-deploy", "multi-deploy"]),
    ],
)
def test_server_side_search(as_user, org, operator, examples, draft, foreign, params, expected):
    HostFactory(organization=org, hostname="web-1.acme.test")
    assert names(as_user(operator).get(LIST, params)) == expected


def test_invalid_filter_is_a_400_with_a_message(as_user, operator, draft):
    response = as_user(operator).get(LIST, {"trigger_type": "whenever"})
    assert response.status_code == 400
    assert "Some filters are not valid" in response.content.decode()


def test_pagination_keeps_the_search(as_user, org, editor):
    for index in range(30):
        definition_create(organization=org, actor=editor, **basic(name=f"job-{index:02d}"))
    definition_create(organization=org, actor=editor, **basic(name="other"))
    client = as_user(editor)
    first = client.get(LIST, {"q": "job-"})
    assert names(first) == [f"job-{i:02d}" for i in range(25)]
    assert 'href="?q=job-&amp;page=2"' in first.content.decode()
    assert names(client.get(LIST, {"q": "job-", "page": 2})) == [f"job-{i:02d}" for i in range(25, 30)]


def test_viewer_sees_no_write_controls(as_user, viewer, draft):
    html = as_user(viewer).get(LIST).content.decode()
    assert f'aria-label="Export {draft.name}"' in html
    for control in (
        f"Clone {draft.name}",
        f"Delete {draft.name}",
        "Import a workflow",
        "Open visual designer",
        "Create template",
        reverse("workflows:definition-new"),
    ):
        assert control not in html


def test_editor_sees_actions_import_and_starter_cards(as_user, editor, draft):
    html = as_user(editor).get(LIST).content.decode()
    assert f'action="{reverse("workflows:definition-clone", args=[draft.pk])}"' in html
    assert f'href="{reverse("workflows:definition-delete", args=[draft.pk])}"' in html
    assert f'href="{reverse("workflows:definition-export", args=[draft.pk])}" download' in html
    assert f'action="{reverse("workflows:definition-import")}"' in html
    assert 'enctype="multipart/form-data"' in html
    assert f'href="{reverse("workflows:definition-new")}?mode=visual"' in html
    assert f'href="{reverse("workflows:definition-new")}?template=1"' in html
    assert f'data-url="{LIBRARY}"' in html  # the library loads on its own


@pytest.mark.parametrize(("role", "shown"), [("operator", True), ("editor", True), ("viewer", False)])
def test_run_link_for_those_who_may_run(as_user, request, draft, role, shown):
    html = as_user(request.getfixturevalue(role)).get(LIST).content.decode()
    link = f'href="/workflows/{draft.pk}/run/" aria-label="Run {draft.name}"'
    assert (link in html) is shown


def test_template_library_is_independent_of_the_lists_filters(as_user, org, other_org, editor, draft):
    template = definition_create(organization=org, actor=editor, is_template=True, **basic(name="tpl-restart"))
    foreign = definition_create(organization=other_org, actor=None, is_template=True, **basic(name="tpl-globex"))
    client = as_user(editor)
    assert names(client.get(LIST, {"q": "deploy-draft"})) == ["deploy-draft"]
    fragment = client.get(LIBRARY, {"q": "deploy-draft", "page": 9}, HTTP_X_FRAGMENT="1")
    html = fragment.content.decode()
    assert fragment.status_code == 200
    assert "<html" not in html and template.name in html
    assert draft.name not in html and foreign.name not in html
    assert f'aria-label="Use template {template.name}"' in html
    page = client.get(LIBRARY)
    assert "<html" in page.content.decode() and template.name in page.content.decode()


def test_empty_template_library_offers_to_create_one(as_user, editor, viewer, draft):
    assert "No templates yet." in as_user(editor).get(LIBRARY, HTTP_X_FRAGMENT="1").content.decode()
    html = as_user(viewer).get(LIBRARY, HTTP_X_FRAGMENT="1").content.decode()
    assert "No templates yet." in html and "Create one" not in html


def test_nav_has_the_workflows_entry(as_user, viewer):
    html = as_user(viewer).get(reverse("portal:dashboard")).content.decode()
    nav = re.search(r'<nav class="main-nav" aria-label="Main">(.*?)</nav>', html, re.S).group(1)
    assert f'<a href="{LIST}">Workflows</a>' in nav
    assert f'<a href="{LIST}" aria-current="page">Workflows</a>' in as_user(viewer).get(LIST).content.decode()


def test_needs_login_and_membership(client, db):
    assert client.get(LIST)["Location"].startswith(reverse("portal:login"))


def test_list_query_count_does_not_grow_with_the_rows(as_user, org, editor, draft):
    client = as_user(editor)
    client.get(LIST)  # session and membership caches warm
    with CaptureQueriesContext(connection) as few:
        client.get(LIST)
    for index in range(20):
        definition_create(organization=org, actor=editor, **basic(name=f"more-{index}"))
    with CaptureQueriesContext(connection) as many:
        response = client.get(LIST)
    assert len(names(response)) == 21
    assert len(many.captured_queries) == len(few.captured_queries)
