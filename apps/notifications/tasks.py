from celery import shared_task

from apps.notifications.approvals import approval_notice_send
from apps.notifications.services import notification_send


@shared_task(name="apps.notifications.tasks.notification_deliver", acks_late=True, reject_on_worker_lost=True,
             ignore_result=True)
def notification_deliver(step_execution_id: int, attempt: int) -> None:
    notification_send(step_execution_id=step_execution_id, attempt=attempt)


@shared_task(name="apps.notifications.tasks.approval_notify", acks_late=True, reject_on_worker_lost=True,
             ignore_result=True)
def approval_notify(approval_id: int) -> None:
    approval_notice_send(approval_id=approval_id)
