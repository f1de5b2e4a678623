from __future__ import annotations

from typing import Any

from apps.engine.errors import ErrorClass
from apps.engine.runtime import Outcome, StepRun


def render(value: Any, context: dict[str, Any]) -> Any:
    """Render every string inside `value` (dicts and lists walked) with the sandbox."""
    from apps.steps.templating import render_template

    if isinstance(value, str):
        return render_template(value, context)
    if isinstance(value, dict):
        return {key: render(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, context) for item in value]
    return value


def evaluate(expression: str, context: dict[str, Any]) -> Any:
    from apps.steps.templating import evaluate_expression

    return evaluate_expression(expression, context)


def template_error(run: StepRun, exc: Exception) -> Outcome:
    return Outcome.failed(ErrorClass.TEMPLATE_ERROR, f"{type(exc).__name__}: {exc}")


class Execution:
    """The engine half of a step type, mixed into its catalogue class (apps.steps.<type>)
    ahead of `StepType`, whose `on_event` and `stop` defaults apply when a half has none."""
