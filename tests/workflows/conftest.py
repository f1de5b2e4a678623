"""Fixtures for the workflow authoring tests."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from apps.accounts.roles import Role

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "apps" / "workflows" / "examples"


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES_DIR / f"{name}.json").read_text())


def basic(**overrides: Any) -> dict[str, Any]:
    """A small valid definition: plan (command) -> apply (script)."""
    data = {
        "name": "deploy",
        "variables": [{"name": "package", "default": "openssl"}],
        "steps": [
            {"id": "plan", "type": "command", "config": {"command": "echo {{ vars.package }}"}, "on_success": "apply"},
            {"id": "apply", "type": "script", "config": {"interpreter": "bash", "body": "echo {{ hosts.hostname }}"}},
        ],
    }
    data.update(copy.deepcopy(overrides))
    return data


@pytest.fixture
def editor(org, make_member):
    return make_member(org, Role.EDITOR, "editor")


@pytest.fixture
def editor_api(api, editor, org):
    return api(editor, org)
