"""approval: create a request and wait for people (or its timeout)."""

from __future__ import annotations

from datetime import timedelta

from apps.approvals.models import ApprovalStatus
from apps.approvals.services import approval_cancel_for_step, approval_create, approval_for_step
from apps.engine.errors import ErrorClass
from apps.engine.lifecycle import timer_add
from apps.engine.models import TimerKind
from apps.engine.runtime import Outcome, StepRun
from apps.engine.states import PauseReason, StepStatus
from apps.engine.step_types.base import Execution, render, template_error


class ApprovalExecution(Execution):
    def start(self, run: StepRun) -> Outcome:
        try:
            message = render(run.config.get("message") or "", run.context().data)
        except Exception as exc:
            return template_error(run, exc)
        approval = approval_create(instance=run.instance, step=run.step, config=run.config, message=message)
        timeout = run.config.get("timeout_seconds")
        if timeout:
            timer_add(
                run.instance,
                kind=TimerKind.APPROVAL_TIMEOUT,
                due_at=run.now + timedelta(seconds=int(timeout)),
                step=run.step,
                data={"approval_id": approval.pk},
            )
        return Outcome.waiting(PauseReason.AWAITING_APPROVAL, approval_id=approval.pk)

    def on_event(self, run: StepRun) -> Outcome | None:
        approval = approval_for_step(run.step)
        if approval is None or approval.status in (ApprovalStatus.PENDING, ApprovalStatus.CANCELED):
            return None
        responses = list(approval.responses.select_related("actor").order_by("created_at"))
        record = {
            "approval_id": approval.pk,
            "approval_status": approval.status,
            "responses": [
                {"user": r.actor.get_username(), "approve": r.approve, "comment": r.comment} for r in responses
            ],
        }
        if approval.status == ApprovalStatus.APPROVED:
            return Outcome.succeeded(output=record, **record)
        if approval.status == ApprovalStatus.REJECTED:
            reject = next((r for r in reversed(responses) if not r.approve), None)
            who = f" by {reject.actor.get_username()}: {reject.comment}" if reject else ""
            return Outcome(StepStatus.REJECTED, output=record, result=record,
                           error_class=ErrorClass.REJECTED, error_message=f"Rejected{who}")
        return self.timed_out(run, record)

    def timed_out(self, run: StepRun, record: dict) -> Outcome:
        action = run.config.get("on_timeout") or "reject"
        seconds = run.config.get("timeout_seconds")
        message = f"No decision within {seconds} seconds (on_timeout: {action})."
        if action == "approve":
            return Outcome.succeeded(output=record, timed_out=True, **record)
        if action == "skip":
            return Outcome(StepStatus.SKIPPED, output=record, result={**record, "timed_out": True})
        if action == "fail":
            return Outcome.failed(ErrorClass.TIMEOUT, message, timed_out=True, **record)
        return Outcome(StepStatus.REJECTED, output=record, result={**record, "timed_out": True},
                       error_class=ErrorClass.REJECTED, error_message=message)

    def stop(self, run: StepRun, mode: str) -> None:
        approval_cancel_for_step(step=run.step)
