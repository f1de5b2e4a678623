"""Operator controls on instances (DESIGN §6). Each is one service: lock, re-check the
state under the lock, audit with actor and reason, side effects on commit."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction

from apps.audit.services import audit_record
from apps.core.errors import InvalidInput, NotFound, TransitionNotAllowed
from apps.engine.models import StepExecution, WorkflowInstance
from apps.engine.states import INSTANCE_TERMINAL, InstanceStatus, instance_transition

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


def _hint(instance_id: int) -> None:
    from apps.engine.tasks import instance_advance_hint

    transaction.on_commit(partial(instance_advance_hint, instance_id))


def instance_lock(*, instance_id: int, organization_id: int) -> WorkflowInstance:
    instance = (
        WorkflowInstance.objects.select_for_update().filter(pk=instance_id, organization_id=organization_id).first()
    )
    if instance is None:
        raise NotFound("Instance not found.")
    return instance


def _cancel_locked(instance: WorkflowInstance, *, mode: str, cleanup: bool) -> bool:
    """Move a locked instance into its cancel status; False when nothing changes."""
    from apps.jobs.models import JOB_ACTIVE

    target = CANCEL_STATUS[mode]
    if instance.status == InstanceStatus.CANCELED:
        if mode != "kill" or not instance.jobs.filter(status__in=JOB_ACTIVE).exists():
            return False
    elif instance.status in INSTANCE_TERMINAL:
        raise TransitionNotAllowed(f"Instance {instance.pk} is already {instance.status}.", code="instance_terminal")
    elif CANCEL_RANK.get(instance.status, 0) >= CANCEL_RANK[target]:
        return False  # already canceling at least this hard: a double click
    if instance.status in (InstanceStatus.SCHEDULED, InstanceStatus.PENDING) and not instance.steps.exists():
        instance_transition(instance, InstanceStatus.CANCELED)
        from apps.engine.lifecycle import close_pam_sessions

        close_pam_sessions(instance, reason="canceled")
        instance.timers.filter(fired_at__isnull=True).delete()
        return True
    fields: dict[str, Any] = {"cancel_cleanup": cleanup and mode == "standard"}
    instance_transition(instance, target, **fields)
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
        _hint(instance.pk)
    return instance


def _cascade(instance: WorkflowInstance, *, mode: str) -> None:
    for child in WorkflowInstance.objects.select_for_update().filter(parent=instance).exclude(
        status__in=INSTANCE_TERMINAL
    ):
        if _cancel_locked(child, mode=mode, cleanup=False):
            _cascade(child, mode=mode)
            _hint(child.pk)


def instance_cancel_cascade(*, parent_step: StepExecution, mode: str) -> None:
    """A stopping `workflow` step cancels its children (called inside the parent's advance)."""
    for child in WorkflowInstance.objects.select_for_update().filter(parent_step=parent_step).exclude(
        status__in=INSTANCE_TERMINAL
    ):
        if _cancel_locked(child, mode=mode, cleanup=False):
            _cascade(child, mode=mode)
            _hint(child.pk)
