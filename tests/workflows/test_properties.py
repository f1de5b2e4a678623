"""Property tests: arbitrary input never breaks validation or the endpoint, and every valid
definition survives export -> import unchanged."""

from __future__ import annotations

import itertools
import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.workflows.services import definition_create, definition_export, definition_import
from apps.workflows.validation import ISSUE_CODES, validate_definition
from tests.workflows.strategies import definition_like, json_values, valid_definitions

SERIAL = itertools.count()
DB_SETTINGS = settings(max_examples=60, deadline=None,
                       suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def assert_well_formed(result) -> None:
    for issue in [*result.errors, *result.warnings]:
        assert issue.code in ISSUE_CODES, issue
        assert isinstance(issue.path, str) and issue.message


@settings(max_examples=300, deadline=None)
@given(json_values | definition_like)
def test_validation_never_raises(data):
    assert_well_formed(validate_definition(data, organization_id=None))


@pytest.mark.django_db
@DB_SETTINGS
@given(definition_like)
def test_validation_with_an_organization_never_raises(org, data):
    assert_well_formed(validate_definition(data, organization_id=org.pk))


@pytest.mark.django_db
@DB_SETTINGS
@given(st.one_of(definition_like, json_values))
def test_create_endpoint_never_answers_500(org, editor_api, data):
    # Encoded here: json.dumps writes NaN/Infinity, which the server must refuse cleanly.
    response = editor_api.post("/api/workflows/", json.dumps(data), content_type="application/json")

    assert response.status_code in (201, 400, 409), (response.status_code, response.content[:500])
    body = response.json()
    if response.status_code == 201:
        assert body["validation"]["errors"] == []
    else:
        assert isinstance(body["detail"], str) and body["detail"] and body["code"]


@pytest.mark.django_db
@DB_SETTINGS
@given(valid_definitions())
def test_generated_definitions_are_valid_and_simulate(org, editor_api, data):
    result = validate_definition(data, organization_id=org.pk)
    assert result.errors == [], [e.as_dict() for e in result.errors]
    created = editor_api.post("/api/workflows/", data | {"name": f"gen-{next(SERIAL)}"}, format="json")
    assert created.status_code == 201, created.json()
    simulated = editor_api.post(f"/api/workflows/{created.json()['id']}/simulate/", {}, format="json")
    assert simulated.status_code == 200, simulated.json()


ENCODINGS = {"object": lambda document: document, "json": json.dumps, "yaml": yaml.safe_dump}


@pytest.mark.django_db
@DB_SETTINGS
@given(valid_definitions(), st.sampled_from(sorted(ENCODINGS)))
def test_export_then_import_is_equivalent(org, data, encoding):
    original = definition_create(organization=org, actor=None, **data | {"name": f"src-{next(SERIAL)}"})
    exported = definition_export(definition=original)

    copy = definition_import(organization=org, actor=None, definition=ENCODINGS[encoding](exported),
                             name=f"copy-{original.pk}")

    assert definition_export(definition=copy) == exported | {"name": copy.name}
    assert not copy.is_published and copy.versions.count() == 1
