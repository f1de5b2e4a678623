"""How an instance ends, holds, pauses, times out and is canceled; timers.

Called by `Engine` with the instance row locked. Side effects that leave the process are
scheduled with `transaction.on_commit`.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from apps.audit.services import audit_record
from apps.core import wake
from apps.engine.models import PamSession, StepExecution, Timer, WorkflowInstance, may_have
from apps.engine.states import (
    INSTANCE_TERMINAL,
    STEP_ACTIVE,
    InstanceStatus,
    PauseReason,
    StepStatus,
    flush_writes,
    instance_transition,
    step_transition,
)
from apps.steps.registry import step_type

if TYPE_CHECKING:
    from apps.engine.advance import Engine

# Timers due sooner than this also get a Celery countdown (the fast path); longer waits
# rely on the sweeper only, because a long countdown on Redis is delivered twice.
FAST_PATH_SECONDS = 5


def timer_add(
    instance: WorkflowInstance,
    *,
    kind: str,
    due_at: datetime,
    step: StepExecution | None = None,
    data: dict[str, Any] | None = None,
) -> Timer:
    timer = Timer.objects.create(instance=instance, step=step, kind=kind, due_at=due_at, data=data or {})
    delay = (due_at - timezone.now()).total_seconds()
    if delay <= FAST_PATH_SECONDS:
        wake.timer_wake(timer.pk, countdown=delay)
    return timer


def kill_switch_blocks(engine: Engine) -> bool:
    """Instances running when the switch went on stop at their next step boundary.

    "Running when it went on" = asked for (created, or retried as a whole) before the
    engagement: `requested_at` is older than the switch. A run started while the switch is
    on, and the children it starts, run normally unless the switch is engaged again later."""
    if engine.kill_switch is None:
        from apps.automation.selectors import kill_switch_engaged

        instance = engine.instance
        engine.kill_switch = kill_switch_engaged(
            organization_id=instance.organization_id, definition_id=instance.definition_id,
            since=instance.requested_at,
        )
    return engine.kill_switch


def has_running_work(engine: Engine, *, jobs: bool = True) -> bool:
    """A job of the instance is active (unless `jobs` is False), or a child instance has not
    ended: what a cancel waits for."""
    from apps.jobs.models import JOB_ACTIVE, Job

    flush_writes()  # a child stopped in this pass must be seen as stopped

    if jobs and Job.objects.filter(instance=engine.instance, status__in=JOB_ACTIVE).exists():
        return True
    return engine.instance.children.exclude(status__in=INSTANCE_TERMINAL).exists()


def instance_has_active_work(instance: WorkflowInstance) -> bool:
    """What a pause waits for: active jobs, or children still moving (a paused child is at rest)."""
    from apps.jobs.models import JOB_ACTIVE, Job

    flush_writes()

    if Job.objects.filter(instance=instance, status__in=JOB_ACTIVE).exists():
        return True
    return instance.children.exclude(status__in=INSTANCE_TERMINAL | {InstanceStatus.PAUSED}).exists()


def successors(spec: dict[str, Any]) -> list[str]:
    return [edge for edge in step_type(spec["type"]).next_ids(spec) if edge]


def reachable(engine: Engine, step_ids: list[str]) -> set[str]:
    """`step_ids` and every step that may follow them."""
    queue = deque(step_ids)
    seen: set[str] = set()
    while queue:
        step_id = queue.popleft()
        if step_id in seen or step_id not in engine.specs:
            continue
        seen.add(step_id)
        queue.extend(successors(engine.specs[step_id]))
    return seen


def mark_unreachable(engine: Engine, step: StepExecution, *, spared: list[str] | None = None) -> None:
    """Every step downstream of `step` that never ran is `unreachable` (never executed),
    except `spared`: where the run goes on instead, and everything that may follow it."""
    queue = deque(successors(engine.specs[step.step_id]))
    seen = reachable(engine, spared or [])
    while queue:
        step_id = queue.popleft()
        if step_id in seen or step_id not in engine.specs:
            continue
        seen.add(step_id)
        if step_id not in engine.steps:
            row = StepExecution.objects.create(
                instance=engine.instance, step_id=step_id, step_type=engine.specs[step_id]["type"]
            )
            step_transition(row, StepStatus.UNREACHABLE)
            engine.steps[step_id] = row
        queue.extend(successors(engine.specs[step_id]))


def stop_active_steps(engine: Engine, *, mode: str) -> None:
    """Stop every active step's side effects and mark it canceled."""
    for step in list(engine.steps.values()):
        if step.status in STEP_ACTIVE:
            engine.stop_step(step, mode)
            step_transition(step, StepStatus.CANCELED)


def finish(engine: Engine, status: str, *, error_class: str = "", error_message: str = "", actor: Any = None) -> None:
    instance = engine.instance
    instance_transition(instance, status, error_class=error_class, error_message=error_message[:10_000])
    close_pam_sessions(instance, reason=status)
    Timer.objects.filter(instance=instance, fired_at__isnull=True).delete()
    if may_have(instance, "approval"):
        from apps.approvals.services import approvals_cancel_for_instance

        approvals_cancel_for_instance(instance=instance)
    audit_record(
        actor=actor,
        action=f"instance.{status}",
        target=instance,
        data={"error_class": error_class, "error_message": error_message[:500]} if error_class else {},
    )
    wake.instance_wake(instance.parent_id)


def succeed(engine: Engine) -> None:
    finish(engine, InstanceStatus.SUCCEEDED)


def recovers_from_rejection(spec: dict[str, Any]) -> bool:
    """An approval whose `on_failure` branch is a recovery path (`on_reject: "recover"`):
    the instance ends as that branch ends. Otherwise the branch only cleans up or notifies
    and the instance still ends `rejected` (DESIGN §6; see README "Approvals")."""
    return (spec.get("config") or {}).get("on_reject") == "recover"


def routed_rejection(engine: Engine) -> StepExecution | None:
    """A rejected gate whose `on_failure` branch ran as cleanup, not as recovery: the
    rejection the instance ends with once nothing is left to run."""
    for step in engine.steps.values():
        spec = engine.specs.get(step.step_id) or {}
        if step.status == StepStatus.REJECTED and spec.get("on_failure") and not recovers_from_rejection(spec):
            return step
    return None


def end_with_step(engine: Engine, step: StepExecution) -> None:
    """A failed or rejected step nobody routes: the instance ends the same way."""
    mark_unreachable(engine, step)
    status = InstanceStatus.REJECTED if step.status == StepStatus.REJECTED else InstanceStatus.FAILED
    stop_active_steps(engine, mode="term")
    finish(engine, status, error_class=step.error_class, error_message=_ending_message(step))


def end_rejected(engine: Engine, step: StepExecution) -> None:
    """The cleanup branch of a routed rejection is done: the instance ends `rejected`."""
    finish(engine, InstanceStatus.REJECTED, error_class=step.error_class, error_message=_ending_message(step))


def _ending_message(step: StepExecution) -> str:
    return f"Step '{step.step_id}' {step.status}: {step.error_message}".strip()


def hold(engine: Engine, step: StepExecution) -> None:
    """hold_on_failure: wait for an operator to retry or skip the step, or to cancel."""
    instance = engine.instance
    target = InstanceStatus.PAUSING if instance_has_active_work(instance) else InstanceStatus.PAUSED
    instance_transition(
        instance,
        target,
        pause_reason=PauseReason.STEP_FAILED,
        status_message=f"Step '{step.step_id}' failed: {step.error_message}"[:500],
    )


# A force or kill cancel already stops every job of the instance; when the workflow
# timeout passes meanwhile, the ending the operator asked for (`canceled`) stands and the
# cancel carries on to it. A standard cancel lets running jobs go on, which the timeout
# still bounds (`canceling` -> `timeout`).
TIMEOUT_YIELDS_TO = frozenset({InstanceStatus.FORCE_CANCELING, InstanceStatus.KILL_CANCELING})


def timeout_due(instance: WorkflowInstance) -> bool:
    if instance.status in TIMEOUT_YIELDS_TO or instance.timeout_at is None:
        return False
    return timezone.now() >= instance.timeout_at


def time_out(engine: Engine) -> None:
    from apps.jobs.services import jobs_request_stop

    jobs_request_stop(instance_id=engine.instance.pk, mode="kill")
    stop_active_steps(engine, mode="kill")
    seconds = engine.instance.snapshot.get("default_timeout_seconds")
    finish(
        engine,
        InstanceStatus.TIMEOUT,
        error_class="Timeout",
        error_message=f"The workflow did not finish within its timeout of {seconds} seconds.",
    )


def progress_cancel(engine: Engine) -> None:
    """Carry a cancel forward; `canceled` once no job of the instance is active."""
    from apps.engine.cancel import cancel_progress

    cancel_progress(engine)


def close_pam_sessions(instance: WorkflowInstance, *, reason: str) -> int:
    if not may_have(instance, "pam_checkout"):
        return 0
    now = timezone.now()
    return PamSession.objects.filter(instance=instance, closed_at__isnull=True).update(
        closed_at=now, close_reason=reason, updated_at=now
    )
