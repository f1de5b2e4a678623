"""set: assign variables (`vars.<name>` for the steps after it); no side effect."""

from __future__ import annotations

from typing import Any

from apps.steps.base import Issue, ValidationContext
from apps.steps.schema import IDENTIFIER, Key, SchemaStep, config_of

MAX_VARIABLES = 100


def assigned_names(spec: dict[str, Any]) -> set[str]:
    values = config_of(spec).get("variables")
    return {name for name in values if IDENTIFIER.match(name)} if isinstance(values, dict) else set()


class SetStep(SchemaStep):
    type_name = "set"
    config_schema = {"variables": Key((dict,), required=True)}
    templated = ("variables",)

    def check(
        self, spec: dict[str, Any], config: dict[str, Any], path: str, ctx: ValidationContext, label: str
    ) -> list[Issue]:
        values = config.get("variables")
        if not isinstance(values, dict):
            return []
        if not values:
            return [Issue(f"{path}.variables", "too_few_items", f"{label}set at least one variable.")]
        if len(values) > MAX_VARIABLES:
            return [Issue(f"{path}.variables", "too_many_items", f"{label}at most {MAX_VARIABLES} variables.")]
        return [
            Issue(f"{path}.variables.{name}", "invalid_name",
                  f"{label}'{name[:50]}' is not a variable name (letters, digits and _, not starting with a digit).")
            for name in values
            if not IDENTIFIER.match(name)
        ]

    def simulate(self, spec: dict[str, Any], sim: Any) -> dict[str, Any]:
        values = config_of(spec)["variables"]
        real, error = sim.try_render(values, real=True)
        if error:
            return {"would_fail": f"TemplateError: {error}"}
        shown, _ = sim.try_render(values)
        sim.set_variables(real)
        return {"would_set": shown, "output": shown}


STEP_TYPE = SetStep()
