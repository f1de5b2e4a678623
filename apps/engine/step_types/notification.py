"""notification: delivered by a `default`-queue task after commit; the step waits for it."""

from __future__ import annotations

from functools import partial

from django.db import transaction

from apps.engine.runtime import Outcome, StepRun
from apps.engine.step_types.base import Execution


class NotificationExecution(Execution):
    def start(self, run: StepRun) -> Outcome:
        from apps.notifications.tasks import notification_deliver

        transaction.on_commit(partial(notification_deliver.delay, run.step.pk, run.step.attempt))
        return Outcome.running(channel=run.config.get("channel"))

    def on_event(self, run: StepRun) -> Outcome | None:
        delivery = run.step.result.get("delivery")
        if not delivery or delivery.get("attempt") != run.step.attempt:
            return None
        output = {"channel": delivery["channel"], "recipients": delivery["recipients"],
                  "status_code": delivery["status_code"]}
        if delivery["ok"]:
            return Outcome.succeeded(output=output)
        return Outcome.failed(delivery["error_class"] or "NotificationFailed", delivery["error_message"])
