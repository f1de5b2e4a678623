"""Validation of a workflow definition (DESIGN §4, issue #3 item 3).

`validate_definition` never raises on bad input: every finding is an Issue with a path
such as `steps[2].config.command`, a stable code and a message naming the step and field.
Errors block saving; warnings (unreachable steps, unknown credentials) are shown.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from apps.steps.base import Issue, ValidationContext
from apps.steps.registry import STEP_MODULES, step_type
from apps.steps.schema import IDENTIFIER, Key, check_object, step_label
from apps.workflows.graph import StepGraph
from apps.workflows.models import TriggerType
from apps.workflows.references import OrganizationLookups
from apps.workflows.template_checks import check_templates

MAX_STEPS = 200
MAX_VARIABLES = 100
MAX_DEFINITION_CHARS = 2 * 1024 * 1024
MAX_NESTING = 32
MAX_TIMEOUT_SECONDS = 30 * 24 * 3600
MAX_INTEGER = 2**53  # exact in every JSON reader (and in a Postgres bigint)
# Every code an Issue can carry (the API's `errors[].code` / `warnings[].code`).
ISSUE_CODES = frozenset({
    # shapes and values
    "wrong_type", "missing_key", "unknown_key", "blank", "too_long", "invalid_choice", "out_of_range",
    "too_few_items", "too_many_items", "invalid_value", "too_deep", "too_large", "too_many_steps", "invalid_name",
    "duplicate_variable", "duplicate_id", "unknown_type",
    # the graph
    "unknown_step", "cycle", "unreachable", "parallel_branch_never_ends", "parallel_branch_overlap", "no_steps",
    # templates and conditions
    "template_syntax", "template_too_large", "unknown_name", "undeclared_variable", "step_not_upstream",
    "unknown_secret_alias", "hosts_outside_fanout", "unknown_host_field", "unknown_instance_field",
    # step types
    "not_a_checkout", "conflicting_keys", "invalid_datetime", "not_for_channel", "invalid_url", "invalid_email",
    "not_enough_approvers", "unknown_workflow", "child_workflow_cycle", "unknown_child_variable",
    "missing_child_variable", "unknown_credential",
})
STEP_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,99}$")

DEFINITION_SCHEMA = {
    "name": Key((str,), required=True, allow_blank=False, max_length=200),
    "description": Key((str,), max_length=10_000),
    "trigger_type": Key((str,), choices=tuple(TriggerType.values)),
    "default_timeout_seconds": Key((int,), nullable=True, min_value=1, max_value=MAX_TIMEOUT_SECONDS),
    "canary_percentage": Key((int,), nullable=True, min_value=1, max_value=100),
    "canary_success_threshold": Key((int,), min_value=0, max_value=100),
    "hold_on_failure": Key((bool,)),
    "variables": Key((list,), items=(dict,), max_items=MAX_VARIABLES),
    "start": Key((str,), nullable=True, max_length=100),
    "on_cancel": Key((str,), nullable=True, max_length=100),
    "approval_notify": Key((dict,), nullable=True),
    "steps": Key((list,), items=(dict,)),
}
# Where approval requests are announced besides e-mail (a Slack incoming webhook, or a
# webhook POST signed like a notification step's when `secret` is set).
APPROVAL_NOTIFY_SCHEMA = {
    "channel": Key((str,), required=True, choices=("slack", "webhook")),
    "url": Key((str,), required=True, allow_blank=False, max_length=2048),
    "secret": Key((str,), allow_blank=False, max_length=1000),
}
VARIABLE_SCHEMA = {
    "name": Key((str,), required=True, allow_blank=False, max_length=100),
    "default": Key((str, int, float, bool, list, dict), nullable=True),
    "description": Key((str,), max_length=2000),
    "sensitive": Key((bool,)),
    "required": Key((bool,)),
}
STEP_SCHEMA = {
    "id": Key((str,), required=True, allow_blank=False, max_length=100),
    "type": Key((str,), required=True),
    "name": Key((str,), max_length=200),
    "description": Key((str,), max_length=2000),
    "config": Key((dict,), nullable=True),
    "on_success": Key((str,), nullable=True),
    "on_failure": Key((str,), nullable=True),
    "timeout_seconds": Key((int,), nullable=True, min_value=1, max_value=MAX_TIMEOUT_SECONDS),
    "retry_count": Key((int,), min_value=0, max_value=100),
    "retry_delay_seconds": Key((int,), min_value=0, max_value=24 * 3600),
    "retryable": Key((bool,)),
    "skippable": Key((bool,)),
    "hold_on_failure": Key((bool,), nullable=True),
    "retry_on_exit_codes": Key((list,), nullable=True, items=(int,), max_items=256),
    "max_parallel": Key((int,), nullable=True, min_value=1, max_value=100_000),
}


@dataclass
class ValidationResult:
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _result(issues: list[Issue]) -> ValidationResult:
    unique = list(dict.fromkeys(issues))
    return ValidationResult(
        errors=[i for i in unique if i.severity == "error"], warnings=[i for i in unique if i.severity == "warning"]
    )


def validate_definition(
    data: Any, *, organization_id: int | None, definition_id: int | None = None
) -> ValidationResult:
    """Every error and warning for `data` (the contract's JSON form). `organization_id`
    scopes child workflows and credentials (None skips those checks); `definition_id` is
    the definition being changed, so that a child workflow leading back to it is caught."""
    if not isinstance(data, dict):
        return _result([Issue("", "wrong_type", "A workflow definition must be a JSON object.")])
    problem = json_problem(data, "")
    if problem is not None:
        return _result([problem])
    if len(json.dumps(data)) > MAX_DEFINITION_CHARS:
        return _result([Issue("", "too_large", f"The definition is larger than {MAX_DEFINITION_CHARS} characters.")])
    issues = check_object(data, DEFINITION_SCHEMA, "")
    steps = data.get("steps", [])
    if not isinstance(steps, list):
        return _result(issues)
    if len(steps) > MAX_STEPS:
        return _result([*issues, Issue("steps", "too_many_steps", f"A workflow has at most {MAX_STEPS} steps.")])
    variables = _check_variables(data.get("variables"), issues)
    issues += _check_approval_notify(data.get("approval_notify"))
    specs, paths = _check_steps(steps, issues)
    graph = _check_graph(data, specs, paths, issues)
    lookups = None
    if organization_id is not None:
        name = data.get("name") if isinstance(data.get("name"), str) else ""
        lookups = OrganizationLookups(organization_id, definition_id=definition_id, name=name)
    ctx = ValidationContext(
        organization_id=organization_id, step_ids=frozenset(paths), variable_names=frozenset(variables),
        specs=specs, upstream=graph.upstream(), lookups=lookups,
    )
    for step_id, spec in specs.items():
        if spec.get("config") is None or isinstance(spec.get("config"), dict):
            issues += step_type(spec["type"]).validate_config(spec, paths[step_id], ctx)
        issues += check_templates(spec, paths[step_id], ctx)
    if not steps:
        issues.append(Issue("steps", "no_steps", "The workflow has no steps yet.", severity="warning"))
    return _result(issues)


def json_problem(value: Any, path: str, depth: int = 0) -> Issue | None:
    """Values JSON (and Postgres jsonb) can hold: no NUL or lone surrogate in a string,
    finite numbers, integers within 2**53, bounded nesting."""
    if depth > MAX_NESTING:
        return Issue(path, "too_deep", f"{path or 'The definition'} is nested more than {MAX_NESTING} levels deep.")
    if isinstance(value, str):
        return _string_problem(value, path)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return None if abs(value) <= MAX_INTEGER else Issue(path, "out_of_range", f"{path}: the number is too large.")
    if isinstance(value, float):
        return None if math.isfinite(value) else Issue(path, "invalid_value", f"{path}: numbers must be finite.")
    if isinstance(value, list):
        items: Any = enumerate(value)
    elif isinstance(value, dict):
        items = value.items()
    else:
        return Issue(path, "invalid_value", f"{path}: {type(value).__name__} is not a JSON value.")
    for key, item in items:
        if isinstance(value, dict) and (not isinstance(key, str) or _string_problem(key, path)):
            return Issue(path, "invalid_value", f"{path or 'The definition'} has a key that is not a valid string.")
        child = f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else key)
        problem = json_problem(item, child, depth + 1)
        if problem is not None:
            return problem
    return None


def _string_problem(text: str, path: str) -> Issue | None:
    if "\x00" in text:
        return Issue(path, "invalid_value", f"{path}: text must not contain NUL characters.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return Issue(path, "invalid_value", f"{path}: text contains an invalid character.")
    return None


def _check_approval_notify(target: Any) -> list[Issue]:
    if not isinstance(target, dict):
        return []
    issues = check_object(target, APPROVAL_NOTIFY_SCHEMA, "approval_notify")
    url = target.get("url")
    if isinstance(url, str) and url and not url.startswith(("http://", "https://")):
        issues.append(Issue("approval_notify.url", "invalid_url", "approval_notify.url must start with http:// "
                            "or https://."))
    if "secret" in target and target.get("channel") == "slack":
        issues.append(Issue("approval_notify.secret", "not_for_channel",
                            "approval_notify.secret is not used by the slack channel (webhook only)."))
    return issues


def _check_variables(variables: Any, issues: list[Issue]) -> set[str]:
    names: set[str] = set()
    if not isinstance(variables, list):
        return names
    for index, variable in enumerate(variables):
        path = f"variables[{index}]"
        if not isinstance(variable, dict):
            continue
        issues += check_object(variable, VARIABLE_SCHEMA, path)
        name = variable.get("name")
        if not isinstance(name, str) or not name.strip():
            continue
        if not IDENTIFIER.match(name):
            issues.append(Issue(f"{path}.name", "invalid_name",
                                f"Variable '{name[:50]}' must be a name like ticket_id (letters, digits, _)."))
        elif name in names:
            issues.append(Issue(f"{path}.name", "duplicate_variable", f"Variable '{name}' is declared twice."))
        names.add(name)
    return names


def _check_steps(steps: list[Any], issues: list[Issue]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Per-step fields; returns the specs with a usable id and a known type, by id."""
    specs: dict[str, dict[str, Any]] = {}
    paths: dict[str, str] = {}
    for index, spec in enumerate(steps):
        path = f"steps[{index}]"
        if not isinstance(spec, dict):
            continue
        label = step_label(spec)
        issues += check_object(spec, STEP_SCHEMA, path, label=label)
        step_id, kind = spec.get("id"), spec.get("type")
        if isinstance(kind, str) and kind not in STEP_MODULES:
            issues.append(Issue(f"{path}.type", "unknown_type",
                                f"{label}unknown step type '{kind[:50]}'; known: {', '.join(STEP_MODULES)}."))
        issues += _exit_code_issues(spec.get("retry_on_exit_codes"), f"{path}.retry_on_exit_codes", label)
        if not isinstance(step_id, str) or not step_id.strip() or len(step_id) > 100:
            continue
        if not STEP_ID.match(step_id):
            issues.append(Issue(f"{path}.id", "invalid_name",
                                f"Step id '{step_id[:50]}' must start with a letter or _ and use letters, digits, _ "
                                "and - only."))
        elif step_id in specs or step_id in paths:
            issues.append(Issue(f"{path}.id", "duplicate_id", f"Step id '{step_id}' is used by {paths[step_id]} too."))
        elif isinstance(kind, str) and kind in STEP_MODULES:
            specs[step_id] = spec
        paths.setdefault(step_id, path)
    return specs, paths


def _exit_code_issues(codes: Any, path: str, label: str) -> list[Issue]:
    if not isinstance(codes, list):
        return []
    return [
        Issue(f"{path}[{index}]", "out_of_range", f"{label}exit codes are between 0 and 255.")
        for index, code in enumerate(codes)
        if isinstance(code, int) and not isinstance(code, bool) and not 0 <= code <= 255
    ]


def _check_graph(
    data: dict[str, Any], specs: dict[str, dict[str, Any]], paths: dict[str, str], issues: list[Issue]
) -> StepGraph:
    known = set(paths)
    for key in ("start", "on_cancel"):
        value = data.get(key)
        if isinstance(value, str) and value and value not in known:
            issues.append(Issue(key, "unknown_step", f"{key} names step '{value[:50]}', which does not exist."))
    for step_id, spec in specs.items():
        for key in ("on_success", "on_failure"):
            target = spec.get(key)
            if isinstance(target, str) and target not in known:
                issues.append(Issue(f"{paths[step_id]}.{key}", "unknown_step",
                                    f"Step '{step_id}': {key} names step '{target[:50]}', which does not exist."))
    graph = StepGraph(specs, start=data.get("start") or None, on_cancel=data.get("on_cancel") or None)
    cyclic: set[str] = set()
    for cycle in graph.cycles():
        cyclic.update(cycle)
        issues.append(Issue(paths[cycle[0]], "cycle", f"Steps {' -> '.join(cycle)} form a cycle."))
    issues += graph.parallel_issues(paths, cyclic)
    for step_id in graph.unreachable():
        issues.append(Issue(paths[step_id], "unreachable",
                            f"Step '{step_id}' is never reached from the first step or on_cancel.", severity="warning"))
    return graph
