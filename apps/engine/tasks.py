"""Celery entry points: thin, id-only, safe to run twice (STYLE rule 4)."""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta

import redis
from celery import shared_task
from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from apps.automation.services import kill_switches_expire
from apps.core import wake
from apps.core.messaging import TASK_OPTIONS, redis_client
from apps.engine.advance import advance
from apps.engine.controls import instance_fail_worker_lost
from apps.engine.models import WorkflowInstance
from apps.engine.states import INSTANCE_ACTIVE
from apps.engine.timers import due_timer_ids, timer_fire
from apps.jobs.models import Job, JobStatus

logger = logging.getLogger(__name__)




# Deliveries of an instance's advance that never returned (its worker process died in
# it: killed, segfault, out of memory) before the instance is failed instead of advanced.
MAX_LOST_DELIVERIES = 5


@shared_task(name="apps.engine.tasks.instance_advance", **TASK_OPTIONS)
def instance_advance(instance_id: int) -> None:
    """Tasks are acks_late with reject_on_worker_lost, so Celery redelivers an advance whose
    worker died, for ever if the advance itself kills it. The engine counts those deliveries
    itself (DESIGN §3): one that returns, normally or with an exception, clears the count."""
    client = redis_client()
    deliveries_key = f"opsflow:advance-deliveries:{instance_id}"
    try:  # one round trip: count this delivery, and let the next hint enqueue again
        deliveries = (client.pipeline(transaction=False).incr(deliveries_key).expire(deliveries_key, 3600)
                      .delete(wake.advance_hint_key(instance_id)).execute()[0])
    except redis.RedisError:
        deliveries = 1
    if deliveries > MAX_LOST_DELIVERIES:
        if deliveries == MAX_LOST_DELIVERIES + 1:
            logger.error("advancing instance %s took its worker down %d times; failing it", instance_id,
                         MAX_LOST_DELIVERIES)
            instance_fail_worker_lost(
                instance_id=instance_id,
                message=f"Advancing this run took its engine worker process down {MAX_LOST_DELIVERIES} times "
                        "(killed, crashed or out of memory); it was stopped instead of being tried again.",
            )
        return  # beyond that: dropped, so that a failing ending cannot loop either
    try:
        advance(instance_id)
    finally:
        with contextlib.suppress(redis.RedisError):
            client.delete(deliveries_key)


@shared_task(name="apps.engine.tasks.timer_fire_task", **TASK_OPTIONS)
def timer_fire_task(timer_id: int) -> None:
    timer_fire(timer_id=timer_id)


@shared_task(name="apps.engine.tasks.sweep", **TASK_OPTIONS)
def sweep() -> None:
    """The beat tick: fire due timers, re-advance instances with no recent progress, record
    the release of kill switches whose `until` passed."""
    for timer_id in due_timer_ids():
        try:
            timer_fire(timer_id=timer_id)
        except Exception:
            logger.exception("timer %s failed to fire", timer_id)
    # An instance whose jobs run waits for them (their endings wake it; a lost wake is
    # noticed once they ended), so only the others are stalled.
    stalled_since = timezone.now() - timedelta(seconds=settings.OPSFLOW_STALL_SECONDS)
    running_jobs = Job.objects.filter(instance_id=OuterRef("pk"), status=JobStatus.RUNNING)
    stale = (
        WorkflowInstance.objects.filter(status__in=INSTANCE_ACTIVE, progressed_at__lt=stalled_since)
        .exclude(Exists(running_jobs))
        .values_list("pk", flat=True)[:200]
    )
    for instance_id in stale:
        WorkflowInstance.objects.filter(pk=instance_id).update(progressed_at=timezone.now())
        wake.instance_wake_now(instance_id)
    kill_switches_expire()  # an engagement whose `until` passed: record its release
