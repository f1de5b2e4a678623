from __future__ import annotations

from typing import Any

from apps.engine.errors import ErrorClass
from apps.engine.runtime import Outcome, StepRun
from apps.steps.templating import evaluate_expression, render_template


def render(value: Any, context: dict[str, Any]) -> Any:
    """Render every string inside `value` (dicts and lists walked) with the sandbox."""
    if isinstance(value, str):
        return render_template(value, context)
    if isinstance(value, dict):
        return {key: render(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, context) for item in value]
    return value


def evaluate(expression: str, context: dict[str, Any]) -> Any:
    return evaluate_expression(expression, context)


def template_error(run: StepRun, exc: Exception) -> Outcome:
    return Outcome.failed(ErrorClass.TEMPLATE_ERROR, f"{type(exc).__name__}: {exc}")


class Execution:
    """The engine half of a step type (its authoring half is apps.steps.<type>): registered
    by type name in apps.engine.step_types.registry. Each runs inside the advance pass
    with the instance row locked."""

    def start(self, run: StepRun) -> Outcome:
        raise NotImplementedError

    def on_event(self, run: StepRun) -> Outcome | None:
        """Something may have changed (a job ended, a timer fired, an approval was answered,
        a child finished): the step's new outcome, or None while nothing did."""
        return None

    def stop(self, run: StepRun, mode: str) -> None:
        """Stop side effects; `mode` is queued|standard|term|kill."""
