"""Fixtures for the Workflows pages: real definitions written through the services."""

from __future__ import annotations

import pytest

from apps.accounts.roles import Role
from apps.workflows.services import definition_create, examples_load
from tests.workflows.conftest import basic


@pytest.fixture
def editor(org, make_member):
    return make_member(org, Role.EDITOR, "editor")


@pytest.fixture
def examples(org) -> dict:
    """The bundled examples, published, by name."""
    return {definition.name: definition for definition in examples_load(organization=org)}


@pytest.fixture
def draft(org, editor):
    return definition_create(organization=org, actor=editor, **basic(name="deploy-draft", description="Roll out"))


@pytest.fixture
def foreign(other_org):
    return definition_create(organization=other_org, actor=None, **basic(name="globex-secret-deploy"))


@pytest.fixture
def as_user(client):
    def login(user):
        client.force_login(user)
        return client

    return login
