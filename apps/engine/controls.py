"""Operator controls on instances (DESIGN §6). Each is one service: lock, re-check the
state under the lock, audit with actor and reason, side effects on commit."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from apps.audit.services import audit_record
from apps.core import live, wake
from apps.core.errors import InvalidInput, TransitionNotAllowed
from apps.engine import events
from apps.engine.locks import children_lock, instance_lock, instance_lock_by_id
from apps.engine.models import StepExecution, WorkflowInstance
from apps.engine.states import (
    INSTANCE_CANCELING,
    INSTANCE_TERMINAL,
    InstanceStatus,
    PauseReason,
    instance_transition,
)
from apps.jobs.models import JOB_LIVE

CANCEL_STATUS = {
    "standard": InstanceStatus.CANCELING,
    "force": InstanceStatus.FORCE_CANCELING,
    "kill": InstanceStatus.KILL_CANCELING,
    # what a stopping parent step asks of its children
    "term": InstanceStatus.FORCE_CANCELING,
    "queued": InstanceStatus.CANCELING,
}
# A stronger cancel may follow a weaker one; never the other way round.
CANCEL_RANK = {InstanceStatus.CANCELING: 1, InstanceStatus.FORCE_CANCELING: 2, InstanceStatus.KILL_CANCELING: 3}


def _changed(instance: WorkflowInstance, steps: tuple[StepExecution, ...] = ()) -> None:
    """Tell live viewers (after commit) what a control changed: the engine pass it wakes
    only publishes what that pass itself changes."""
    live.publish(instance.pk, [*(events.step_event(step) for step in steps), events.instance_event(instance)])


def instance_has_live_jobs(instance: WorkflowInstance) -> bool:
    """Processes of a job may still run (a force cancel did not wait for them, or nobody
    could verify they stopped): a kill is still allowed on the `canceled` instance."""
    return instance.jobs.filter(JOB_LIVE).exists()


def _cancel_locked(instance: WorkflowInstance, *, mode: str, cleanup: bool) -> bool:
    """Move a locked instance into its cancel status; False when nothing changes."""
    target = CANCEL_STATUS[mode]
    if instance.status == InstanceStatus.CANCELED:
        if mode != "kill" or not instance_has_live_jobs(instance):
            return False
    elif instance.status in INSTANCE_TERMINAL:
        raise TransitionNotAllowed(f"Instance {instance.pk} is already {instance.status}.", code="instance_terminal")
    elif CANCEL_RANK.get(instance.status, 0) >= CANCEL_RANK[target]:
        return False  # already canceling at least this hard: a double click
    if instance.status in (InstanceStatus.SCHEDULED, InstanceStatus.PENDING) and not instance.steps.exists():
        instance_transition(instance, InstanceStatus.CANCELED)
        _changed(instance)
        from apps.engine.lifecycle import close_pam_sessions

        close_pam_sessions(instance, reason="canceled")
        instance.timers.filter(fired_at__isnull=True).delete()
        return True
    fields: dict[str, Any] = {"cancel_cleanup": cleanup and mode == "standard"}
    instance_transition(instance, target, **fields)
    _changed(instance)
    return True


@transaction.atomic
def instance_cancel(
    *, instance_id: int, organization_id: int, actor: Any, mode: str = "standard", cleanup: bool = False,
    reason: str = "",
) -> WorkflowInstance:
    if mode not in ("standard", "force", "kill"):
        raise InvalidInput("mode must be one of standard, force, kill.", code="invalid_mode")
    instance = instance_lock(instance_id=instance_id, organization_id=organization_id)
    if _cancel_locked(instance, mode=mode, cleanup=cleanup):
        audit_record(actor=actor, action=f"instance.cancel.{mode}", target=instance,
                     data={"reason": reason, "cleanup": cleanup, "mode": mode})
        _cascade(instance, mode=mode)
        wake.instance_wake(instance.pk)
    return instance


def _cascade(instance: WorkflowInstance, *, mode: str) -> None:
    # A canceled child may still have live jobs for a kill to stop (_cancel_locked decides).
    for child in children_lock(parent=instance).exclude(status__in=INSTANCE_TERMINAL - {InstanceStatus.CANCELED}):
        if _cancel_locked(child, mode=mode, cleanup=False):
            _cascade(child, mode=mode)
            wake.instance_wake(child.pk)


def instance_cancel_cascade(*, parent_step: StepExecution, mode: str) -> None:
    """A stopping `workflow` step cancels its children (called inside the parent's advance)."""
    for child in children_lock(parent_step=parent_step).exclude(status__in=INSTANCE_TERMINAL):
        if _cancel_locked(child, mode=mode, cleanup=False):
            _cascade(child, mode=mode)
            wake.instance_wake(child.pk)


# --- pause / resume (DESIGN §6): cascades down to children, never up -----------------------
def _refuse_unless_running(instance: WorkflowInstance, action: str) -> None:
    if instance.status in INSTANCE_TERMINAL:
        raise TransitionNotAllowed(f"Instance {instance.pk} is already {instance.status}.", code="instance_terminal")
    if instance.status in INSTANCE_CANCELING:
        raise TransitionNotAllowed(f"Instance {instance.pk} is being canceled; it cannot {action}.",
                                   code="instance_canceling")
    if instance.status in (InstanceStatus.SCHEDULED, InstanceStatus.PENDING):
        raise TransitionNotAllowed(
            f"Instance {instance.pk} has not started yet ({instance.status}); cancel it instead.",
            code="instance_not_running",
        )


def ensure_pausable(instance: WorkflowInstance) -> None:
    """Raises why a pause is refused. The portal's Pause button asks the same question."""
    _refuse_unless_running(instance, "pause")


def _pause_locked(instance: WorkflowInstance, *, by_parent: bool) -> bool:
    from apps.engine.lifecycle import instance_has_active_work

    if instance.status != InstanceStatus.RUNNING:
        return False
    target = InstanceStatus.PAUSING if instance_has_active_work(instance) else InstanceStatus.PAUSED
    message = f"Paused with parent instance #{instance.parent_id}." if by_parent else "Paused by an operator."
    instance_transition(instance, target, pause_reason=PauseReason.OPERATOR, status_message=message,
                        paused_by_parent=by_parent)
    _changed(instance)
    for child in children_lock(parent=instance).filter(status=InstanceStatus.RUNNING):
        _pause_locked(child, by_parent=True)
    wake.instance_wake(instance.pk)
    return True


@transaction.atomic
def instance_pause(*, instance_id: int, organization_id: int, actor: Any, reason: str = "") -> WorkflowInstance:
    """`pausing` until no job is active (running jobs finish, nothing new starts), then `paused`."""
    instance = instance_lock(instance_id=instance_id, organization_id=organization_id)
    if instance.status in (InstanceStatus.PAUSING, InstanceStatus.PAUSED):
        return instance  # already took effect: a double click
    ensure_pausable(instance)
    _pause_locked(instance, by_parent=False)
    audit_record(actor=actor, action="instance.pause", target=instance, data={"reason": reason})
    return instance


def _resume_locked(instance: WorkflowInstance) -> None:
    instance_transition(instance, InstanceStatus.RUNNING, pause_reason="", status_message="", paused_by_parent=False)
    _changed(instance)
    for child in children_lock(parent=instance).filter(
        status__in=(InstanceStatus.PAUSING, InstanceStatus.PAUSED), paused_by_parent=True
    ):
        _resume_locked(child)  # a child paused on its own stays paused
    wake.instance_wake(instance.pk)


def ensure_resumable(instance: WorkflowInstance) -> None:
    """Raises why a resume is refused (the portal's Resume button asks it too)."""
    from apps.automation.selectors import kill_switch_engaged

    if instance.status not in (InstanceStatus.PAUSING, InstanceStatus.PAUSED):
        _refuse_unless_running(instance, "resume")
    if instance.pause_reason == PauseReason.STEP_FAILED:
        raise TransitionNotAllowed(
            "The instance holds on a failed step: retry or skip that step, or cancel the instance.",
            code="step_failed_hold",
        )
    if instance.pause_reason == PauseReason.KILL_SWITCH and kill_switch_engaged(
        organization_id=instance.organization_id, definition_id=instance.definition_id, since=instance.requested_at
    ):
        raise TransitionNotAllowed("The kill switch is still on; release it before resuming.",
                                   code="kill_switch_active")


@transaction.atomic
def instance_resume(*, instance_id: int, organization_id: int, actor: Any, reason: str = "") -> WorkflowInstance:
    instance = instance_lock(instance_id=instance_id, organization_id=organization_id)
    if instance.status == InstanceStatus.RUNNING:
        return instance  # already took effect
    ensure_resumable(instance)
    was = instance.pause_reason
    _resume_locked(instance)
    audit_record(actor=actor, action="instance.resume", target=instance, data={"reason": reason, "pause_reason": was})
    return instance


# --- terminate: at once, jobs killed, no cleanup ------------------------------------------
TERMINABLE = frozenset({InstanceStatus.RUNNING, InstanceStatus.PAUSING, InstanceStatus.PAUSED})


def _terminate_locked(instance: WorkflowInstance, *, reason: str, actor: Any) -> None:
    from apps.engine.advance import Engine
    from apps.engine.lifecycle import finish, stop_active_steps
    from apps.jobs.services import jobs_request_stop

    engine = Engine(instance)
    jobs_request_stop(instance_id=instance.pk, mode="kill")
    stop_active_steps(engine, mode="kill")  # a `workflow` step kill-cancels its children
    message = f"Terminated by {getattr(actor, 'username', None) or 'the system'}"
    finish(engine, InstanceStatus.TERMINATED, error_message=f"{message}: {reason}" if reason else f"{message}.",
           actor=actor)
    engine.publish_changes()


@transaction.atomic
def instance_fail_worker_lost(*, instance_id: int, message: str) -> WorkflowInstance | None:
    """The engine cannot advance the instance: each attempt took its worker process down
    (a poison message that Celery would redeliver for ever). End it failed with
    WorkerLost, its jobs killed, instead of looping; an operator may retry it (WorkerLost
    is transient) once the cause is fixed."""
    from apps.engine.advance import Engine
    from apps.engine.lifecycle import finish, stop_active_steps
    from apps.jobs.services import jobs_request_stop

    instance = instance_lock_by_id(instance_id)
    if instance is None or instance.status in INSTANCE_TERMINAL:
        return instance
    engine = Engine(instance)
    jobs_request_stop(instance_id=instance.pk, mode="kill")
    stop_active_steps(engine, mode="kill")
    finish(engine, InstanceStatus.FAILED, error_class="WorkerLost", error_message=message)
    engine.publish_changes()
    audit_record(actor=None, action="instance.worker_lost", target=instance, data={"message": message})
    return instance


def ensure_terminable(instance: WorkflowInstance) -> None:
    """Raises why a terminate is refused (the portal's Terminate button asks it too)."""
    if instance.status not in TERMINABLE:
        if instance.status in INSTANCE_TERMINAL:
            raise TransitionNotAllowed(f"Instance {instance.pk} is already {instance.status}.",
                                       code="instance_terminal")
        raise TransitionNotAllowed(
            f"Only a running, pausing or paused instance can be terminated; this one is {instance.status}.",
            code="not_terminable",
        )


@transaction.atomic
def instance_terminate(*, instance_id: int, organization_id: int, actor: Any, reason: str = "") -> WorkflowInstance:
    instance = instance_lock(instance_id=instance_id, organization_id=organization_id)
    if instance.status == InstanceStatus.TERMINATED:
        return instance
    ensure_terminable(instance)
    _terminate_locked(instance, reason=reason, actor=actor)
    audit_record(actor=actor, action="instance.terminate", target=instance, data={"reason": reason})
    return instance
