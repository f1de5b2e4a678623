"""Sending a notification step's message outside the advance transaction, then recording
the delivery on the step (under the instance lock) and waking the engine."""

from __future__ import annotations

import logging

from django.db import transaction

from apps.core import wake
from apps.engine.locks import instance_lock_by_id, step_lock_by_id
from apps.engine.models import StepExecution
from apps.engine.states import StepStatus
from apps.engine.step_types.base import render
from apps.notifications.senders import Delivery, deliver

logger = logging.getLogger(__name__)


def notification_send(*, step_execution_id: int, attempt: int) -> Delivery | None:
    step = StepExecution.objects.select_related("instance").filter(pk=step_execution_id).first()
    if step is None or step.attempt != attempt or step.status != StepStatus.RUNNING:
        return None  # a duplicate message, or the step moved on
    if "delivery" in step.result and step.result["delivery"].get("attempt") == attempt:
        return None  # already sent for this attempt (acks_late redelivery after the send)
    from apps.engine.context import build_context

    instance = step.instance
    spec = next(s for s in instance.snapshot["steps"] if s["id"] == step.step_id)
    context = build_context(instance, with_secrets=True)
    try:
        config = render(spec.get("config") or {}, context.data)
    except Exception as exc:
        delivery = Delivery(False, str(spec["config"].get("channel")), [], error_class="TemplateError",
                            error_message=f"{type(exc).__name__}: {exc}")
    else:
        delivery = deliver(config)
    notification_record(step_execution_id=step.pk, attempt=attempt, delivery=delivery)
    return delivery


def notification_record(*, step_execution_id: int, attempt: int, delivery: Delivery) -> None:
    with transaction.atomic():
        instance_id = StepExecution.objects.filter(pk=step_execution_id).values_list("instance_id", flat=True).first()
        instance_lock_by_id(instance_id)
        step = step_lock_by_id(step_execution_id)
        if step is None or step.attempt != attempt:
            return
        step.result = {**step.result, "delivery": {**delivery.as_dict(), "attempt": attempt}}
        step.save(update_fields=["result", "updated_at"])
        wake.instance_wake(instance_id)
