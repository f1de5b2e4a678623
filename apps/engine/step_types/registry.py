"""Step type registry of the engine: `execution("command")` -> the engine half of that
type. The catalogue (apps.steps.registry) holds the authoring halves under the same names;
tests hold the two registries to the same set of types."""

from __future__ import annotations

from apps.engine.step_types.approval import ApprovalExecution
from apps.engine.step_types.base import Execution
from apps.engine.step_types.child import ChildWorkflowExecution
from apps.engine.step_types.fanout import FanoutExecution
from apps.engine.step_types.inline import (
    ConditionalExecution,
    DelayExecution,
    PamCheckinExecution,
    PamCheckoutExecution,
    SetExecution,
)
from apps.engine.step_types.notification import NotificationExecution
from apps.engine.step_types.parallel import ParallelExecution
from apps.steps.registry import UnknownStepType

EXECUTIONS: dict[str, Execution] = {
    "script": FanoutExecution(),
    "command": FanoutExecution(),
    "approval": ApprovalExecution(),
    "conditional": ConditionalExecution(),
    "delay": DelayExecution(),
    "pam_checkout": PamCheckoutExecution(),
    "pam_checkin": PamCheckinExecution(),
    "parallel": ParallelExecution(),
    "notification": NotificationExecution(),
    "workflow": ChildWorkflowExecution(),
    "set": SetExecution(),
}


def execution(type_name: str) -> Execution:
    try:
        return EXECUTIONS[type_name]
    except KeyError:
        raise UnknownStepType(type_name) from None
