"""Firing timer rows (DESIGN §3): the beat sweeper finds due rows; a short Celery
countdown is only the fast path. Firing twice is harmless: `fired_at` is checked under
the instance lock."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from apps.engine.advance import Engine
from apps.engine.locks import instance_lock_by_id, timer_lock
from apps.engine.models import PamSession, Timer, TimerKind, WorkflowInstance
from apps.engine.states import InstanceStatus, StepStatus, deferred_writes, instance_transition, step_transition


def timer_fire(*, timer_id: int) -> bool:
    row = Timer.objects.filter(pk=timer_id, fired_at__isnull=True).values("instance_id", "due_at").first()
    if row is None or row["due_at"] > timezone.now():
        return False  # gone, fired, or early (a countdown raced the clock): the sweeper fires it on time
    with transaction.atomic():
        instance = instance_lock_by_id(row["instance_id"])
        timer = timer_lock(timer_id)
        if instance is None or timer is None:
            return False
        timer.fired_at = timezone.now()
        timer.save(update_fields=["fired_at"])
        _apply(instance, timer)
        engine = Engine(instance)
        with deferred_writes():
            engine.run()
        engine.publish_changes()
    return True


def _apply(instance: WorkflowInstance, timer: Timer) -> None:
    kind = timer.kind
    if kind == TimerKind.START and instance.status == InstanceStatus.SCHEDULED:
        instance_transition(instance, InstanceStatus.PENDING)
    elif kind == TimerKind.RETRY and timer.step and timer.step.status == StepStatus.WAITING:
        step_transition(timer.step, StepStatus.PENDING, wait_reason="")
    elif kind == TimerKind.APPROVAL_TIMEOUT:
        from apps.approvals.services import approval_time_out

        approval_time_out(approval_id=timer.data["approval_id"])
    elif kind == TimerKind.PAM_EXPIRY:
        now = timezone.now()
        PamSession.objects.filter(pk=timer.data["session_id"], closed_at__isnull=True).update(
            closed_at=now, close_reason="expired", updated_at=now
        )
    # DELAY and WORKFLOW_TIMEOUT need nothing here: the delay step sees its fired timer,
    # and advance checks `timeout_at`.


def due_timer_ids(*, limit: int = 500) -> list[int]:
    return list(
        Timer.objects.filter(fired_at__isnull=True, due_at__lte=timezone.now())
        .order_by("due_at")
        .values_list("pk", flat=True)[:limit]
    )
