"""Kill switch fixtures: workflows in two organizations, and the engine's end-to-end
fixtures re-exported for the worker test."""

from __future__ import annotations

import pytest

from apps.workflows.models import WorkflowDefinition
from apps.workflows.services import definition_create
from tests.engine.conftest import localhost, make_workflow, run  # noqa: F401 (fixtures)
from tests.portal.fixtures import acme, globex, member_of_both  # noqa: F401 (fixtures)

STEPS = [{"id": "probe", "type": "command", "config": {"command": "true"}}]


def workflow(organization, name: str) -> WorkflowDefinition:
    return definition_create(organization=organization, actor=None, name=name, steps=STEPS)


@pytest.fixture
def patch_web(org) -> WorkflowDefinition:
    return workflow(org, "patch-web")


@pytest.fixture
def restart_db(org) -> WorkflowDefinition:
    return workflow(org, "restart-db")


@pytest.fixture
def foreign_workflow(other_org) -> WorkflowDefinition:
    return workflow(other_org, "globex-deploy")
