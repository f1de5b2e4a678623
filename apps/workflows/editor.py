"""What the workflow editor's page needs to build its forms: every step type's config
schema (`apps.steps`), the per-step fields (`apps.workflows.validation.STEP_SCHEMA`) and
the definition's settings, described as plain data for the browser; plus the YAML form of
a definition for the source view. Presentation only: the rules stay in the step modules
and in validation, so a new config key shows up in the editor without touching this file.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import yaml

from apps.steps.conditional import BRANCH_SCHEMA
from apps.steps.notification import CHANNEL_KEYS
from apps.steps.registry import step_type, type_names
from apps.steps.schema import Key, SchemaStep
from apps.workflows.models import TriggerType
from apps.workflows.validation import DEFINITION_SCHEMA, STEP_SCHEMA, VARIABLE_SCHEMA

# How a key is edited when its type alone does not say it (keys are "<type>.<key>").
LONG_TEXT = {"script.body", "command.command", "approval.message", "notification.body"}
STEP_REF = {"approval.plan_from", "conditional.default", "pam_checkin.checkout"}
STEP_REF_LIST = {"parallel.branches"}
LABELS = {
    "timeout_seconds": "Timeout (seconds)",
    "ttl_seconds": "Lease time (seconds)",
    "retry_delay_seconds": "Retry delay (seconds)",
    "retry_on_exit_codes": "Retry on exit codes",
    "max_parallel": "Hosts at once (max_parallel)",
    "hold_on_failure": "Hold on failure",
    "default_timeout_seconds": "Default timeout (seconds)",
    "canary_percentage": "Canary percentage",
    "canary_success_threshold": "Canary success threshold (%)",
    "seconds": "Delay (seconds)",
    "url": "URL",
    "to": "Recipients",
    "plan_from": "Show plan from step",
    "on_cancel": "On cancel, run step",
    "start": "First step",
}
HINTS = {
    "approval.approvers": "One per line: usernames or group:<name>. None: anyone who may run workflows.",
    "approval.plan_from": "A step before this one whose output is shown to the approvers.",
    "approval.on_reject": "reject: on_failure only cleans up, the run ends rejected. recover: on_failure takes over.",
    "conditional.default": "Where to go when no branch matches (else on_success).",
    "conditional.branches": "The first branch whose condition holds decides the next step.",
    "delay.until": "An ISO 8601 date and time, or a template. Give seconds or until, not both.",
    "notification.to": "One e-mail address per line (templates allowed).",
    "notification.payload": "A JSON object (webhook only).",
    "parallel.branches": "One step id per line; each branch runs until a step with no on_success.",
    "pam_checkout.credential": "A vault credential's name or id.",
    "pam_checkout.alias": "Later steps read it as secrets.<alias>.username / .password.",
    "pam_checkin.checkout": "The pam_checkout step whose lease to close.",
    "set.variables": 'A JSON object, e.g. {"result": "patched"}; values may be templates.',
    "workflow.workflow": "The child workflow's name or id (same organization).",
    "workflow.variables": "A JSON object of the child's variables; values may be templates.",
    "workflow.batch_size": "Hosts per child instance; empty: one child for all hosts.",
    "step.retry_on_exit_codes": "Comma-separated exit codes that are retried automatically.",
    "step.max_parallel": "Empty: every host at once.",
    "step.hold_on_failure": "Pause for an operator when this step fails.",
}
# Per-step fields shown in each step's form (id, type, config and edges have their own
# controls); the fan-out ones only for steps that run on hosts.
STEP_OPTIONS = (
    "name",
    "description",
    "timeout_seconds",
    "retry_count",
    "retry_delay_seconds",
    "retryable",
    "skippable",
    "hold_on_failure",
)
FANOUT_OPTIONS = ("max_parallel", "retry_on_exit_codes")
# Defaults the per-step yes/no fields fall back to when left unset (DESIGN §4).
STEP_DEFAULTS = {"retryable": "yes", "skippable": "no", "hold_on_failure": "the workflow's setting"}
SETTINGS = (
    "name",
    "description",
    "trigger_type",
    "default_timeout_seconds",
    "canary_percentage",
    "canary_success_threshold",
    "hold_on_failure",
    "start",
    "on_cancel",
)


def label_for(key: str) -> str:
    return LABELS.get(key, key.replace("_", " ").capitalize())


def field_spec(key: str, rule: Key, *, scope: str) -> dict[str, Any]:
    """One form field: its widget, label and limits. `scope` is a step type, "step"
    (per-step fields) or "definition"."""
    name = f"{scope}.{key}"
    spec: dict[str, Any] = {
        "key": key,
        "label": label_for(key),
        "widget": _widget(name, rule),
        "required": rule.required,
        "nullable": rule.nullable,
        "hint": HINTS.get(name, ""),
    }
    if rule.choices:
        spec["choices"] = list(rule.choices)
    if rule.min_value is not None:
        spec["min"] = rule.min_value
    if rule.max_value is not None:
        spec["max"] = rule.max_value
    if rule.max_length is not None:
        spec["max_length"] = rule.max_length
    if name == "conditional.branches":
        spec["item_fields"] = [field_spec(k, r, scope="branch") for k, r in BRANCH_SCHEMA.items()]
    if scope == "notification" and key in CHANNEL_KEYS:  # only the channel's own keys are shown
        spec["shown_for"] = {"key": "channel", "values": list(CHANNEL_KEYS[key])}
    if key in STEP_DEFAULTS and scope == "step":
        spec["default_label"] = STEP_DEFAULTS[key]
    return spec


def _widget(name: str, rule: Key) -> str:
    types = set(rule.types)
    if name in STEP_REF or name in {"branch.next", "definition.start", "definition.on_cancel"}:
        return "step"
    if name in STEP_REF_LIST:
        return "step_lines"
    if rule.choices:
        return "select"
    if types == {bool}:
        return "yesno" if name.startswith("step.") else "checkbox"
    if types <= {int, float}:
        return "integer" if types == {int} else "number"
    if types == {list}:
        if name == "conditional.branches":
            return "branches"
        return "integers" if rule.items == (int,) else "lines"
    if types == {dict}:
        return "json"
    return "textarea" if name in LONG_TEXT or name.endswith(".description") else "text"


def step_catalogue() -> list[dict[str, Any]]:
    """Every step type with the fields of its config form, in the catalogue's order."""
    catalogue = []
    for name in type_names():
        kind = step_type(name)
        schema = kind.config_schema if isinstance(kind, SchemaStep) else {}
        options = STEP_OPTIONS + (FANOUT_OPTIONS if kind.fans_out else ())
        catalogue.append(
            {
                "type": name,
                "doc": _summary(kind),
                "fans_out": kind.fans_out,
                "fields": [field_spec(key, rule, scope=name) for key, rule in schema.items()],
                "options": [field_spec(key, STEP_SCHEMA[key], scope="step") for key in options],
            }
        )
    return catalogue


def _summary(kind: Any) -> str:
    """The first paragraph of the step module's docstring."""
    doc = (sys.modules[type(kind).__module__].__doc__ or "").strip()
    return re.sub(r"\s*\(DESIGN §\d+\)", "", " ".join(doc.split("\n\n")[0].split()))


def settings_fields() -> list[dict[str, Any]]:
    fields = [field_spec(key, DEFINITION_SCHEMA[key], scope="definition") for key in SETTINGS]
    for field in fields:
        if field["key"] == "trigger_type":
            field["choices"] = [{"value": v, "label": label} for v, label in TriggerType.choices]
    return fields


def variable_fields() -> list[dict[str, Any]]:
    return [field_spec(key, rule, scope="variable") for key, rule in VARIABLE_SCHEMA.items()]


def editor_schema() -> dict[str, Any]:
    return {"steps": step_catalogue(), "settings": settings_fields(), "variables": variable_fields()}


# --- the source view's YAML ----------------------------------------------------------------
class _SourceDumper(yaml.SafeDumper):
    """Block style, multi-line strings as literal blocks, never anchors or aliases (the
    importer refuses aliases)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None  # the emitter falls back to quotes when a block cannot hold it
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_SourceDumper.add_representer(str, _represent_str)


def definition_yaml(data: Any) -> str:
    return yaml.dump(
        data, Dumper=_SourceDumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=4096
    )
