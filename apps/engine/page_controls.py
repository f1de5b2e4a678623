"""What the run page offers an operator now (DESIGN §6), and why an action is not available.

Each button asks the same check its control service makes under its lock (`ensure_*` in
controls.py and step_controls.py), so a button is enabled exactly when the service would
act on the state the page shows; the service still decides at the click (the state may
have moved on). A disabled button carries the service's own message and a short reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apps.accounts.models import Organization
from apps.approvals.models import ApprovalRequest, ApprovalStatus
from apps.approvals.rules import may_respond, respond_refusal
from apps.approvals.selectors import approvals_list
from apps.core.errors import ApplicationError, TransitionNotAllowed
from apps.engine.controls import ensure_pausable, ensure_resumable, ensure_terminable
from apps.engine.models import StepExecution, WorkflowInstance
from apps.engine.rerun import executed_steps
from apps.engine.selectors import instance_history
from apps.engine.states import INSTANCE_TERMINAL, InstanceStatus, StepStatus
from apps.engine.step_controls import ensure_skippable, ensure_step_retry_allowed, retry_leaves

# Refusal code -> the few words shown beside a disabled button (the full message is its title).
SHORT_REASONS = {
    "instance_terminal": "the run has ended",
    "instance_canceling": "the run is being canceled",
    "instance_not_running": "not started yet: cancel it instead",
    "step_failed_hold": "holds on failed step: retry or skip it",
    "kill_switch_active": "the kill switch is on: release it first",
    "not_terminable": "only a running or paused run can be terminated",
    "step_not_retryable": "this step is not retryable",
    "non_retryable_error": "this error is never retried: start a new run",
    "nothing_to_retry": "no step failed: re-run it instead",
    "definition_deleted": "its workflow was deleted",
}


@dataclass(frozen=True)
class Control:
    refusal: str = ""  # the service's message when the state does not allow the action
    reason: str = ""  # the short form, shown beside the disabled button

    @property
    def enabled(self) -> bool:
        return not self.refusal


def _refused(error: ApplicationError, instance: WorkflowInstance) -> Control:
    reason = SHORT_REASONS.get(error.code, error.message)
    if error.code == "instance_terminal" and instance.status == InstanceStatus.FAILED:
        reason = "the run has ended: retry the run instead"
    return Control(refusal=error.message, reason=reason)


def _ask(instance: WorkflowInstance, check: Callable[..., Any], *args: Any) -> Control:
    try:
        check(*args)
    except TransitionNotAllowed as refusal:
        return _refused(refusal, instance)
    return Control()


def instance_controls(instance: WorkflowInstance, steps: list[StepExecution]) -> dict[str, Control]:
    """name -> Control for the buttons the run's state calls for: pause or resume, cancel and
    terminate while it is not over; retry (failed) and re-run once it is."""
    if instance.status in INSTANCE_TERMINAL:
        controls = {"rerun": Control()}
        if instance.definition_id is None:
            controls["rerun"] = Control(refusal="The workflow of this run was deleted; it cannot be re-run.",
                                        reason=SHORT_REASONS["definition_deleted"])
        if instance.status == InstanceStatus.FAILED:
            controls["retry"] = _ask(instance, retry_leaves, instance, steps)
        if instance.status == InstanceStatus.CANCELED and getattr(instance, "live_jobs", 0):
            # A force cancel did not wait for its jobs' processes: a kill still may (DESIGN §6),
            # counted with the predicate instance_cancel checks (apps.jobs.models.JOB_LIVE).
            controls["kill"] = Control()
        return controls
    if instance.status in (InstanceStatus.PAUSING, InstanceStatus.PAUSED):
        controls = {"resume": _ask(instance, ensure_resumable, instance)}
    else:
        controls = {"pause": _ask(instance, ensure_pausable, instance)}
    controls["cancel"] = Control()
    controls["terminate"] = _ask(instance, ensure_terminable, instance)
    return controls


def step_controls(instance: WorkflowInstance, step: StepExecution) -> dict[str, Control]:
    """Retry for a failed step; Skip too when the step is skippable."""
    if step.status != StepStatus.FAILED:
        return {}
    controls = {"retry": _ask(instance, ensure_step_retry_allowed, instance, step)}
    try:
        ensure_skippable(instance, step)
        controls["skip"] = Control()
    except TransitionNotAllowed as refusal:
        if refusal.code != "not_skippable":
            controls["skip"] = _refused(refusal, instance)
    return controls


def run_controls(
    *, instance: WorkflowInstance, user: Any, organization: Organization, can_execute: bool
) -> dict[str, Any]:
    """The page's `controls`, and on each step of `instance.step_list`: `controls` (retry,
    skip), `rerun_from` (a finished run may be re-run from it) and, for a waiting approval
    gate, `approval` with `can_approve`, `can_reject` and `approval_note`."""
    steps: list[StepExecution] = instance.step_list
    rerunnable = set()
    if can_execute and instance.status in INSTANCE_TERMINAL and instance.definition_id:
        rerunnable = {step.pk for step in executed_steps(steps)}
    for step in steps:
        step.controls = step_controls(instance, step) if can_execute else {}
        step.rerun_from = step.pk in rerunnable
        step.approval = None
    _attach_approvals(instance, steps, user=user, organization=organization)
    return {
        "controls": instance_controls(instance, steps) if can_execute else {},
        "cancel_cleanup": bool(instance.snapshot.get("on_cancel")),
    }


def _attach_approvals(
    instance: WorkflowInstance, steps: list[StepExecution], *, user: Any, organization: Organization
) -> None:
    waiting = {step.pk: step for step in steps if step.step_type == "approval" and step.status == StepStatus.WAITING}
    if not waiting:
        return  # no query for a run without a waiting gate
    pending = approvals_list(organization=organization).filter(
        instance=instance, step_execution_id__in=list(waiting), status=ApprovalStatus.PENDING
    )
    for approval in pending:
        approval.instance = instance
        step = waiting[approval.step_execution_id]
        step.approval = approval
        step.approvals_so_far = sum(1 for response in approval.responses.all() if response.approve)
        step.can_approve = may_respond(approval, user, organization, approve=True)
        step.can_reject = may_respond(approval, user, organization, approve=False)
        step.approval_note = "" if step.can_approve or step.can_reject else _approval_note(
            approval, user, organization)


def _approval_note(approval: ApprovalRequest, user: Any, organization: Organization) -> str:
    mine = next((r for r in approval.responses.all() if r.actor_id == user.pk), None)
    if mine is not None:
        return f"You {'approved' if mine.approve else 'rejected'} this request."
    refusal = respond_refusal(approval, user, organization, approve=True)
    return refusal.message if refusal is not None else ""


# --- History ---------------------------------------------------------------------------
ACTION_LABELS = {
    "instance.start": "Started",
    "instance.pause": "Paused",
    "instance.resume": "Resumed",
    "instance.cancel.standard": "Canceled (standard)",
    "instance.cancel.force": "Canceled (force)",
    "instance.cancel.kill": "Canceled (kill)",
    "instance.terminate": "Terminated",
    "instance.retry": "Retried the run",
    "instance.rerun": "Re-ran",
    "step.retry": "Retried a step",
    "step.skip": "Skipped a step",
}


def history_rows(instance: WorkflowInstance) -> list[dict[str, Any]]:
    """`instance_history` (control actions and approval responses, oldest first) with a
    label for each action; what the run did on its own (`instance.failed`, ...) reads as
    its status."""
    rows = instance_history(instance=instance)
    for row in rows:
        action, data = row["action"], row["data"]
        if action == "approval.respond":
            label = "Approved" if data.get("approve") else "Rejected"
        elif action.startswith("instance.") and action not in ACTION_LABELS:
            label = f"Run {action.removeprefix('instance.').replace('_', ' ')}"
        else:
            label = ACTION_LABELS.get(action, action)
        row["label"] = label
        row["rerun"] = data.get("rerun") if action == "instance.rerun" else None
    return rows
