"""Retry and skip a failed step; retry a failed instance in place (DESIGN §6).

Each is one service: lock the instance, re-check under the lock, audit with actor and
reason, wake the engine on commit. The engine itself starts the step again: a service
only puts rows back in a state the engine knows how to carry on from.

- retry step: the step goes back to `pending`; a fan-out re-runs only its hosts that did
  not succeed. A `parallel` step that failed because of it waits again (`running`), so
  the retried branch rejoins at its join.
- skip step: `skipped`, and the engine routes on to `on_success`.
- retry instance: a `failed` instance resumes at its failed steps (from the start if
  none failed), with the steps stopped by the failure started again.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.core import wake
from apps.core.errors import NotFound, TransitionNotAllowed
from apps.engine.advance import Engine
from apps.engine.controls import _changed
from apps.engine.errors import NEVER_RETRIED
from apps.engine.locks import instance_lock, step_lock, steps_lock
from apps.engine.models import StepExecution, WorkflowInstance
from apps.engine.states import (
    INSTANCE_CANCELING,
    INSTANCE_TERMINAL,
    STEP_ACTIVE,
    InstanceStatus,
    PauseReason,
    StepStatus,
    instance_transition,
    step_transition,
)


def _step_lock(instance: WorkflowInstance, step_id: str) -> StepExecution:
    step = step_lock(instance, step_id)
    if step is None:
        if step_id in {s["id"] for s in instance.snapshot.get("steps", [])}:
            raise TransitionNotAllowed(f"Step '{step_id}' has not run in this instance.", code="step_not_failed")
        raise NotFound(f"Step '{step_id}' not found in instance {instance.pk}.")
    return step


def _spec(instance: WorkflowInstance, step_id: str) -> dict[str, Any]:
    return next((s for s in instance.snapshot.get("steps", []) if s.get("id") == step_id), {})


def _refuse_terminal(instance: WorkflowInstance) -> None:
    if instance.status in INSTANCE_TERMINAL:
        hint = " Retry the instance instead." if instance.status == InstanceStatus.FAILED else " Re-run it instead."
        raise TransitionNotAllowed(f"Instance {instance.pk} is already {instance.status}.{hint}",
                                   code="instance_terminal")
    if instance.status in INSTANCE_CANCELING:
        raise TransitionNotAllowed(f"Instance {instance.pk} is being canceled.", code="instance_canceling")


def _release_hold(instance: WorkflowInstance) -> None:
    """A held instance (`paused`, `step_failed`) runs on once its failed step is dealt with."""
    if instance.status in (InstanceStatus.PAUSED, InstanceStatus.PAUSING) and (
        instance.pause_reason == PauseReason.STEP_FAILED
    ):
        instance_transition(instance, InstanceStatus.RUNNING, pause_reason="", status_message="")


def _reopen_containers(instance: WorkflowInstance, step: StepExecution) -> list[StepExecution]:
    """The parallel steps that failed because this step's branch failed wait for it again
    (returned, for the live viewers)."""
    reopened: list[StepExecution] = []
    parallel_id = step.parallel_id
    while parallel_id:
        container = step_lock(instance, parallel_id)
        if container is None:
            break
        if container.status in (StepStatus.FAILED, StepStatus.CANCELED):
            step_transition(container, StepStatus.RUNNING, error_class="", error_message="")
            reopened.append(container)
        parallel_id = container.parallel_id
    return reopened


def ensure_retryable(instance: WorkflowInstance, step: StepExecution) -> None:
    if step.status != StepStatus.FAILED:
        raise TransitionNotAllowed(f"Step '{step.step_id}' is {step.status}, not failed.", code="step_not_failed")
    if _spec(instance, step.step_id).get("retryable", True) is False:
        raise TransitionNotAllowed(f"Step '{step.step_id}' is not retryable.", code="step_not_retryable")
    if step.error_class in NEVER_RETRIED:
        raise TransitionNotAllowed(
            f"Step '{step.step_id}' failed with {step.error_class}, which is never retried: "
            "fix the cause and start a new run.",
            code="non_retryable_error",
        )


def ensure_step_retry_allowed(instance: WorkflowInstance, step: StepExecution) -> None:
    """Raises why retrying `step` now is refused (the portal's Retry button asks it too)."""
    _refuse_terminal(instance)
    ensure_retryable(instance, step)


def ensure_skippable(instance: WorkflowInstance, step: StepExecution) -> None:
    """Raises why skipping `step` now is refused (the portal's Skip button asks it too)."""
    _refuse_terminal(instance)
    if step.status != StepStatus.FAILED:
        raise TransitionNotAllowed(f"Step '{step.step_id}' is {step.status}, not failed.", code="step_not_failed")
    if not _spec(instance, step.step_id).get("skippable", False):
        raise TransitionNotAllowed(f"Step '{step.step_id}' is not skippable.", code="not_skippable")


@transaction.atomic
def step_retry(
    *, instance_id: int, organization_id: int, step_id: str, actor: Any, reason: str = ""
) -> WorkflowInstance:
    instance = instance_lock(instance_id=instance_id, organization_id=organization_id)
    step = _step_lock(instance, step_id)
    if instance.status not in INSTANCE_TERMINAL and (step.status in STEP_ACTIVE or _step_retried(instance, step)):
        return instance  # the retry already took effect (the step may even have run again): a double click
    ensure_step_retry_allowed(instance, step)
    failed = {"attempt": step.attempt, "error_class": step.error_class, "error_message": step.error_message[:500]}
    step_transition(step, StepStatus.PENDING, wait_reason="")
    reopened = _reopen_containers(instance, step)
    _release_hold(instance)
    _changed(instance, (step, *reopened))
    audit_record(actor=actor, action="step.retry", target=instance,
                 data={"step": step_id, "reason": reason, "failed": failed})
    wake.instance_wake(instance.pk)
    return instance


@transaction.atomic
def step_skip(
    *, instance_id: int, organization_id: int, step_id: str, actor: Any, reason: str = ""
) -> WorkflowInstance:
    from apps.engine.advance import Engine

    instance = instance_lock(instance_id=instance_id, organization_id=organization_id)
    step = _step_lock(instance, step_id)
    if step.status == StepStatus.SKIPPED and step.result.get("skipped_by"):
        return instance  # already skipped by an operator
    ensure_skippable(instance, step)
    who = getattr(actor, "username", None) or "system"
    step_transition(step, StepStatus.SKIPPED, result={**step.result, "skipped_by": who, "skip_reason": reason})
    reopened = _reopen_containers(instance, step)
    _release_hold(instance)
    _changed(instance, (step, *reopened))
    engine = Engine(instance)
    engine.route(engine.steps[step_id])  # on to on_success (only creates the next step's row)
    engine.publish_changes()
    audit_record(actor=actor, action="step.skip", target=instance, data={"step": step_id, "reason": reason})
    wake.instance_wake(instance.pk)
    return instance


def _failed_leaves(steps: list[StepExecution]) -> list[StepExecution]:
    """Failed steps that are not containers failed only because of a failed branch step."""
    containers = {s.parallel_id for s in steps if s.status == StepStatus.FAILED and s.parallel_id}
    return [s for s in steps if s.status == StepStatus.FAILED and s.step_id not in containers]


def retry_leaves(instance: WorkflowInstance, steps: list[StepExecution]) -> list[StepExecution]:
    """The failed steps a retry of a failed instance resumes at (none: it restarts from the
    beginning); raises when retrying cannot help (the portal's Retry button asks it too)."""
    leaves = _failed_leaves(steps)
    strict = [s for s in leaves if _spec(instance, s.step_id).get("retryable", True) is False]
    if strict:
        raise TransitionNotAllowed(
            f"Step '{strict[0].step_id}' failed and is not retryable (retryable: false): start a new run.",
            code="step_not_retryable",
        )
    blocked = [s for s in leaves if s.error_class in NEVER_RETRIED]
    if blocked:
        raise TransitionNotAllowed(
            f"Step '{blocked[0].step_id}' failed with {blocked[0].error_class}, which is never retried: "
            "fix the cause and start a new run.",
            code="non_retryable_error",
        )
    return leaves


@transaction.atomic
def instance_retry(*, instance_id: int, organization_id: int, actor: Any, reason: str = "") -> WorkflowInstance:
    instance = instance_lock(instance_id=instance_id, organization_id=organization_id)
    if instance.status != InstanceStatus.FAILED:
        if instance.status not in INSTANCE_TERMINAL and _retried(instance):
            return instance  # the retry already took effect
        raise TransitionNotAllowed(
            f"Only a failed instance can be retried; this one is {instance.status}."
            + (" Re-run it instead." if instance.status in INSTANCE_TERMINAL else ""),
            code="instance_not_failed",
        )
    steps = steps_lock(instance)
    leaves = retry_leaves(instance, steps)
    changed: list[StepExecution] = []
    for step in leaves:
        step_transition(step, StepStatus.PENDING, wait_reason="")
        changed += [step, *_reopen_containers(instance, step)]
    if leaves:
        # Steps the failure stopped (other parallel branches) run again too.
        for step in steps:
            if step.status == StepStatus.CANCELED and step.reused_from_id is None:
                step_transition(step, StepStatus.PENDING, wait_reason="")
                changed.append(step)
    else:
        changed += _restart(instance, steps)
    # Asked for again now: a kill switch already on does not stop this manual retry.
    instance_transition(instance, InstanceStatus.RUNNING, status_message="", requested_at=timezone.now())
    _changed(instance, tuple(changed))
    _retry_timeout(instance)
    _reopen_pam_sessions(instance)
    audit_record(actor=actor, action="instance.retry", target=instance,
                 data={"reason": reason, "steps": [s.step_id for s in leaves], "restart": not leaves})
    wake.instance_wake(instance.pk)
    return instance


def _restart(instance: WorkflowInstance, steps: list[StepExecution]) -> list[StepExecution]:
    """No step failed (a workflow-level error): the run starts again at its first step.

    Every row the run executed is set back: the first step `pending`, the others
    `unreachable` until the routing reaches them again (which puts them back to `pending`,
    as for any step that did not run). Jobs keep their attempts; `restarted_at_attempt`
    makes a fan-out run every host again instead of only those that did not succeed."""
    first = instance.snapshot.get("start") or next((s["id"] for s in instance.snapshot.get("steps", [])), None)
    reset: list[StepExecution] = []
    for step in steps:
        if step.reused_from_id is not None:
            continue  # a re-run's kept result stays kept
        to = StepStatus.PENDING if step.step_id == first else StepStatus.UNREACHABLE
        step_transition(step, to, wait_reason="", output=None, next_step="", error_class="", error_message="",
                        result={"restarted_at_attempt": step.attempt + 1}, started_at=None)
        reset.append(step)
    if first is not None and not any(step.step_id == first for step in steps):
        reset.append(Engine(instance).activate(first, parallel_id="", branch=""))
    return reset


def _retry_timeout(instance: WorkflowInstance) -> None:
    """A retried instance gets its workflow timeout afresh."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.engine.lifecycle import timer_add
    from apps.engine.models import TimerKind

    seconds = instance.snapshot.get("default_timeout_seconds")
    if not seconds:
        return
    instance.timeout_at = timezone.now() + timedelta(seconds=int(seconds))
    instance.save(update_fields=["timeout_at", "updated_at"])
    timer_add(instance, kind=TimerKind.WORKFLOW_TIMEOUT, due_at=instance.timeout_at)


def _step_retried(instance: WorkflowInstance, step: StepExecution) -> bool:
    """The step ran again after an operator's retry and has not failed since."""
    return step.status != StepStatus.FAILED and AuditEvent.objects.filter(
        target_type=instance._meta.label_lower, target_id=str(instance.pk), action="step.retry",
        data__step=step.step_id, data__failed__attempt__lt=step.attempt,
    ).exists()


def _retried(instance: WorkflowInstance) -> bool:
    return AuditEvent.objects.filter(
        target_type=instance._meta.label_lower, target_id=str(instance.pk), action="instance.retry"
    ).exists()


def _reopen_pam_sessions(instance: WorkflowInstance) -> None:
    """Checkouts closed only because the instance failed are the instance's again until
    their checkin step or their ttl, as if it had never stopped."""
    from django.utils import timezone

    from apps.engine.models import PamSession

    PamSession.objects.filter(
        instance=instance, close_reason=InstanceStatus.FAILED, expires_at__gt=timezone.now()
    ).update(closed_at=None, close_reason="", updated_at=timezone.now())
