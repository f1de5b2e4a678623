"""Wake an instance: ask the engine to advance it (or fire a timer) once this transaction
commits (DESIGN §3). By Celery task name, so that jobs, approvals and notifications wake
the engine without importing it (DESIGN §1: they write their rows, the engine reads them).

The database is the source of truth and these messages are hints: a lost one only delays
the instance until the engine's sweeper re-advances it. A burst of wakes for one instance
(job endings, say) costs one message: the first sets a Redis key for HINT_TTL_SECONDS, the
advance deletes it when it starts, so a wake during an advance sends another one.
"""

from __future__ import annotations

from functools import partial

import redis
from celery import current_app
from django.db import transaction

from apps.core.messaging import redis_client

ADVANCE_TASK = "apps.engine.tasks.instance_advance"
TIMER_FIRE_TASK = "apps.engine.tasks.timer_fire_task"
HINT_TTL_SECONDS = 10


def advance_hint_key(instance_id: int) -> str:
    return f"opsflow:advance:{instance_id}"


def advance_send(instance_id: int) -> None:
    """The advance message itself, routed like the task (CELERY_TASK_ROUTES)."""
    current_app.send_task(ADVANCE_TASK, args=[instance_id])


def instance_wake_now(instance_id: int) -> None:
    """Send an advance unless one is already queued; for callers that already committed."""
    try:
        first = redis_client().set(advance_hint_key(instance_id), 1, nx=True, ex=HINT_TTL_SECONDS)
    except redis.RedisError:
        first = True  # better one advance too many than a run that waits for the sweeper
    if first:
        advance_send(instance_id)


def instance_wake(instance_id: int | None) -> None:
    """Wake the instance after this transaction commits (at once outside one)."""
    if instance_id is not None:
        transaction.on_commit(partial(instance_wake_now, instance_id))


def timer_wake(timer_id: int, *, countdown: float) -> None:
    """The fast path of a timer row due within seconds, after commit (the sweeper is the
    slow path; DESIGN §3: never a countdown longer than a few seconds)."""
    transaction.on_commit(
        partial(current_app.send_task, TIMER_FIRE_TASK, args=[timer_id], countdown=max(countdown, 0))
    )
