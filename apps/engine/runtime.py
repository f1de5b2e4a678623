"""What a step type's engine half sees and returns.

Each step type's engine half (apps.engine.step_types) implements `start(run) -> Outcome`
(the step became active) and `on_event(run) -> Outcome | None` (something may have
changed: a job ended, a timer fired, an approval was answered, a child finished), and
`stop(run, mode)` to stop its side effects. Both run inside `advance`'s transaction with the instance row locked;
anything that must leave the process (Celery, e-mail, HTTP) is scheduled on commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from apps.engine.states import StepStatus

if TYPE_CHECKING:
    from datetime import datetime

    from apps.engine.context import Context
    from apps.engine.models import StepExecution, WorkflowInstance


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


@dataclass
class Outcome:
    status: str
    wait_reason: str = ""
    output: Any = UNSET
    result: dict[str, Any] | None = None
    # Overrides on_success routing (conditional branches).
    next_step: str | None = None
    error_class: str = ""
    error_message: str = ""

    @classmethod
    def running(cls, **result: Any) -> Outcome:
        return cls(StepStatus.RUNNING, result=result or None)

    @classmethod
    def waiting(cls, reason: str, **result: Any) -> Outcome:
        return cls(StepStatus.WAITING, wait_reason=reason, result=result or None)

    @classmethod
    def succeeded(cls, output: Any = UNSET, next_step: str | None = None, **result: Any) -> Outcome:
        return cls(StepStatus.SUCCEEDED, output=output, next_step=next_step, result=result or None)

    @classmethod
    def failed(cls, error_class: str, message: str, **result: Any) -> Outcome:
        return cls(StepStatus.FAILED, error_class=error_class, error_message=message, result=result or None)


@dataclass
class StepRun:
    """One step of one locked instance, as handed to its step type."""

    instance: WorkflowInstance
    step: StepExecution
    spec: dict[str, Any]
    engine: Any  # apps.engine.advance.Engine; gives access to sibling steps and activation
    now: datetime = field(default_factory=timezone.now)

    @property
    def config(self) -> dict[str, Any]:
        return self.spec.get("config") or {}

    @property
    def definition(self) -> dict[str, Any]:
        return self.instance.snapshot

    def context(self, *, with_secrets: bool = False) -> Context:
        from apps.engine.context import build_context

        return build_context(self.instance, steps=self.engine.step_list(), with_secrets=with_secrets)
