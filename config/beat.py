"""The beat process: `celery -A config.beat beat`. It sends the sweeper ticks by name
and needs nothing but the broker and the schedule, so it does not set up Django."""

from __future__ import annotations

from celery import Celery

from config import celery_conf

app = Celery("opsflow", fixups=[])  # no Django fixup: beat never touches the ORM
app.conf.update(
    broker_url=celery_conf.BROKER_URL,
    broker_transport_options=celery_conf.BROKER_TRANSPORT_OPTIONS,
    broker_connection_retry_on_startup=True,
    task_routes=celery_conf.TASK_ROUTES,
    task_serializer="json",
    accept_content=["json"],
    beat_schedule=celery_conf.BEAT_SCHEDULE,
    task_ignore_result=True,
)
