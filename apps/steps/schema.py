"""A small declarative schema for JSON objects: required/optional keys with their types,
unknown keys rejected. Step configs, per-step fields, variables and the definition's top
level are all checked with it, so each step module only declares its keys."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from apps.steps.base import Issue, StepType, ValidationContext

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
STEP_PREFIX = re.compile(r"^steps\[\d+\]\.?")
TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
              list: "a list", dict: "an object"}


@dataclass(frozen=True)
class Key:
    types: tuple[type, ...]
    required: bool = False
    nullable: bool = False
    choices: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    allow_blank: bool = True
    max_length: int | None = None
    items: tuple[type, ...] = ()  # for lists: the type of every item
    min_items: int = 0
    max_items: int | None = None


def is_type(value: Any, types: tuple[type, ...]) -> bool:
    """JSON-minded isinstance: a bool is not an integer, an integer is a number."""
    if isinstance(value, bool):
        return bool in types
    if isinstance(value, int):
        return int in types or float in types
    return any(t not in (bool, int) and isinstance(value, t) for t in types)


def describe(types: tuple[type, ...]) -> str:
    return " or ".join(TYPE_NAMES.get(t, t.__name__) for t in types)


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def shown(path: str, label: str) -> str:
    """The path as a message shows it: without the step's own prefix when the label already
    names the step, "the definition" for the top level."""
    return (STEP_PREFIX.sub("", path) if label else path) or "the definition"


def check_object(value: Any, schema: dict[str, Key], path: str, *, label: str = "") -> list[Issue]:
    """Every finding for `value` against `schema`; `label` prefixes messages ("Step 'x': ")."""
    if not isinstance(value, dict):
        return [Issue(path, "wrong_type", f"{label}{shown(path, label)} must be an object.")]
    issues = [
        Issue(join(path, str(key)), "unknown_key", f"{label}unknown key '{key}' in {shown(path, label)}; "
              f"allowed: {', '.join(schema)}.")
        for key in value
        if key not in schema
    ]
    for key, rule in schema.items():
        if key not in value:
            if rule.required:
                issues.append(Issue(join(path, key), "missing_key",
                                    f"{label}{shown(join(path, key), label)} is required."))
            continue
        issues += check_value(value[key], rule, join(path, key), label=label)
    return issues


def check_value(value: Any, rule: Key, path: str, *, label: str = "") -> list[Issue]:
    if value is None:
        if rule.nullable:
            return []
        return [Issue(path, "wrong_type", f"{label}{shown(path, label)} must be {describe(rule.types)}, not null.")]
    if not is_type(value, rule.types):
        return [Issue(path, "wrong_type", f"{label}{shown(path, label)} must be {describe(rule.types)}.")]
    if isinstance(value, str):
        return _check_string(value, rule, path, label)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _check_number(value, rule, path, label)
    if isinstance(value, list):
        return _check_list(value, rule, path, label)
    return []


def _check_string(value: str, rule: Key, path: str, label: str) -> list[Issue]:
    if not rule.allow_blank and not value.strip():
        return [Issue(path, "blank", f"{label}{shown(path, label)} must not be blank.")]
    if rule.max_length is not None and len(value) > rule.max_length:
        return [Issue(path, "too_long", f"{label}{shown(path, label)} is longer than {rule.max_length} characters.")]
    if rule.choices and value not in rule.choices:
        choices = ", ".join(rule.choices)
        return [Issue(path, "invalid_choice", f"{label}{shown(path, label)} must be one of {choices}.")]
    return []


def _check_number(value: float, rule: Key, path: str, label: str) -> list[Issue]:
    low, high = rule.min_value, rule.max_value
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"between {low} and {high}" if low is not None and high is not None else (
            f"at least {low}" if low is not None else f"at most {high}")
        return [Issue(path, "out_of_range", f"{label}{shown(path, label)} must be {bounds}.")]
    return []


def _check_list(value: list, rule: Key, path: str, label: str) -> list[Issue]:
    if len(value) < rule.min_items:
        return [Issue(path, "too_few_items", f"{label}{shown(path, label)} needs at least {rule.min_items} item(s).")]
    if rule.max_items is not None and len(value) > rule.max_items:
        return [Issue(path, "too_many_items", f"{label}{shown(path, label)} allows at most {rule.max_items} items.")]
    issues = []
    if rule.items:
        for index, item in enumerate(value):
            if not is_type(item, rule.items):
                issues.append(Issue(join(path, index), "wrong_type",
                                    f"{label}{shown(join(path, index), label)} must be {describe(rule.items)}."))
            elif isinstance(item, str) and not rule.allow_blank and not item.strip():
                issues.append(Issue(join(path, index), "blank",
                                    f"{label}{shown(join(path, index), label)} must not be blank."))
    return issues


def strings_in(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, text) for every string inside `value`, walking lists and objects."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(item, join(path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings_in(item, join(path, index))


def step_label(spec: dict[str, Any]) -> str:
    step_id = spec.get("id")
    return f"Step '{step_id}': " if isinstance(step_id, str) else ""


class SchemaStep(StepType):
    """A step type whose config is checked against `config_schema`; `templated` names the
    config keys whose strings (at any depth) are templates. Subclasses add `check` for rules
    that span keys or other steps; it runs only when the config is an object."""

    config_schema: ClassVar[dict[str, Key]] = {}
    templated: ClassVar[tuple[str, ...]] = ()

    def validate_config(self, spec: dict[str, Any], path: str, ctx: ValidationContext) -> list[Issue]:
        config = {} if spec.get("config") is None else spec["config"]
        label = step_label(spec)
        issues = check_object(config, self.config_schema, f"{path}.config", label=label)
        if isinstance(config, dict):
            issues += self.check(spec, config, f"{path}.config", ctx, label)
        return issues

    def check(
        self, spec: dict[str, Any], config: dict[str, Any], path: str, ctx: ValidationContext, label: str
    ) -> list[Issue]:
        return []

    def template_fields(self, spec: dict[str, Any]) -> dict[str, str]:
        config = config_of(spec)
        return {
            field_path: text
            for key in self.templated
            if key in config
            for field_path, text in strings_in(config[key], key)
        }


def config_of(spec: dict[str, Any]) -> dict[str, Any]:
    """The step's config, or {} when it is absent or not an object."""
    config = spec.get("config")
    return config if isinstance(config, dict) else {}


def step_ref(ctx: ValidationContext, value: Any, path: str, label: str, *, of: str | None = None) -> list[Issue]:
    """`value` names an existing step (and, with `of`, one upstream of step `of`)."""
    if not isinstance(value, str):
        return []
    if value not in ctx.step_ids:
        return [Issue(path, "unknown_step", f"{label}{shown(path, label)} names step '{value}', which does not exist.")]
    if of is not None and not ctx.is_upstream(value, of=of):
        return [Issue(path, "step_not_upstream",
                      f"{label}{shown(path, label)} names step '{value}', which cannot run before it.")]
    return []
