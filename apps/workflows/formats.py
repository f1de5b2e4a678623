"""The contract's JSON form of a definition (DESIGN §4): what export writes, import and the
engine's snapshot read, and the YAML/JSON text import accepts."""

from __future__ import annotations

import json
from typing import Any

import yaml

from apps.core.errors import InvalidInput
from apps.workflows.models import TriggerType, WorkflowDefinition

# The definition's content, in export order; also the keys of an instance's snapshot.
CONTENT_FIELDS = (
    "name", "description", "trigger_type", "default_timeout_seconds", "canary_percentage",
    "canary_success_threshold", "hold_on_failure", "variables", "start", "on_cancel", "approval_notify", "steps",
)
FLAG_FIELDS = ("is_active", "is_published", "is_template")
CONTENT_DEFAULTS: dict[str, Any] = {
    "description": "",
    "trigger_type": TriggerType.MANUAL.value,
    "default_timeout_seconds": None,
    "canary_percentage": None,
    "canary_success_threshold": 80,
    "hold_on_failure": False,
    "variables": [],
    "start": None,
    "on_cancel": None,
    "approval_notify": None,
    "steps": [],
}
MAX_IMPORT_CHARS = 2 * 1024 * 1024


def definition_content(definition: WorkflowDefinition) -> dict[str, Any]:
    """The definition as plain data in the contract's format (no ids, no history)."""
    return {
        "name": definition.name,
        "description": definition.description,
        "trigger_type": definition.trigger_type,
        "default_timeout_seconds": definition.default_timeout_seconds,
        "canary_percentage": definition.canary_percentage,
        "canary_success_threshold": definition.canary_success_threshold,
        "hold_on_failure": definition.hold_on_failure,
        "variables": definition.variables or [],
        "start": definition.start or None,
        "on_cancel": definition.on_cancel or None,
        "approval_notify": definition.approval_notify or None,
        "steps": definition.steps or [],
    }


def apply_content(definition: WorkflowDefinition, content: dict[str, Any]) -> None:
    """Copy validated content onto the model (blank start/on_cancel are stored as "")."""
    for key in CONTENT_FIELDS:
        value = content.get(key, CONTENT_DEFAULTS.get(key))
        if key in ("start", "on_cancel"):
            value = value or ""
        setattr(definition, key, value)


class _ImportLoader(yaml.SafeLoader):
    """Safe YAML without aliases (a few lines of anchors can expand to gigabytes) and with
    timestamps kept as text (an `until` value stays what was written)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "YAML aliases (*name) are not accepted", event.start_mark)
        return super().compose_node(parent, index)


_ImportLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_definition_text(text: str) -> Any:
    """JSON, else YAML; a clear 400 when it is neither."""
    if len(text) > MAX_IMPORT_CHARS:
        raise InvalidInput(f"The definition is larger than {MAX_IMPORT_CHARS} characters.", code="too_large")
    try:
        return json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        pass
    try:
        return yaml.load(text, Loader=_ImportLoader)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        raise InvalidInput(f"The definition is neither valid JSON nor valid YAML: {exc}"[:1000],
                           code="invalid_definition") from exc
