"""Schemathesis over the live `/api/schema/` (issue 13, item 6), in-process on Postgres.

Every operation of the schema gets generated cases (examples, coverage and fuzzing
phases, valid and invalid data) sent through the real WSGI application inside the test's
transaction, twice: with the API token of an owner whose organization holds a host, a
credential, a published workflow, a run and an open approval, and with no token at all.
Each response must not be a 5xx, must have a status code, content type and body that the
schema documents. Without a token every answer is 401 or 403, except the 404 that anyone
gets before authentication for a URL no route matches (see fuzz.answered_before_authentication).

The embedded SQLite mode gets the same checks over HTTP in
tests/standalone/test_schemathesis_standalone.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from apps.accounts.roles import Role
from apps.inventory.services import host_create
from apps.workflows.services import definition_create
from config.wsgi import application
from tests.contract.fuzz import (
    CHECKS,
    FUZZ_SETTINGS,
    OrgData,
    answered_before_authentication,
    make_org_data,
    prepare,
)

pytestmark = pytest.mark.django_db

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture(autouse=True)
def keep_the_test_connection() -> Iterator[None]:
    """The WSGI handler closes old connections around each request; the test's open
    transaction must survive them (what django.test.Client does too)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def owner_data(org, make_member) -> OrgData:
    return make_org_data(org, make_member(org, Role.OWNER, "fuzz-owner"))


@schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation_with_an_owner_token(case, owner_data):
    prepare(case, owner_data)
    case.call_and_validate(headers={"Authorization": f"Token {owner_data.token}"}, checks=CHECKS)


@schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation_without_a_token_is_refused(case, owner_data):
    prepare(case, owner_data)
    case.headers = {key: value for key, value in (case.headers or {}).items() if key.lower() != "authorization"}
    response = case.call_and_validate(checks=CHECKS)
    refused = response.status_code in (401, 403)
    assert refused or (response.status_code == 404 and answered_before_authentication(case)), (
        case.method, case.formatted_path, case.query, response.status_code)


@pytest.mark.parametrize("path, collection", [("/api/hosts/{id}/", "hosts"), ("/api/workflows/{id}/", "workflows")])
def test_an_object_without_its_optional_references_matches_the_schema(path, collection, owner_data):
    """Schemathesis: a host without a credential (credential_name) and a workflow without
    `start` and `on_cancel` answer null where the schema said string."""
    created = {
        "hosts": lambda: host_create(organization=owner_data.organization, actor=None, hostname="bare"),
        "workflows": lambda: definition_create(organization=owner_data.organization, actor=None, name="bare",
                                               steps=[{"id": "one", "type": "command", "config": {"command": "true"}}]),
    }[collection]()
    case = schema[path]["GET"].Case(path_parameters={"id": created.pk})
    response = case.call_and_validate(headers={"Authorization": f"Token {owner_data.token}"}, checks=CHECKS)
    assert response.status_code == 200
