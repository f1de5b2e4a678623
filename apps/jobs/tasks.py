"""Celery entry points of the jobs worker: thin, id-only, safe to run twice."""

from __future__ import annotations

import logging
import os
import socket
from functools import cache

import redis
from celery import Task, shared_task
from django.conf import settings
from django.db import close_old_connections

from apps.engine import tasks as engine_tasks
from apps.jobs.models import Job, JobStatus
from apps.jobs.runner import run_job
from apps.jobs.services import (
    drainer_next_step,
    inline_advances,
    job_claim,
    jobs_fail_stale,
    jobs_unattended_steps,
)

logger = logging.getLogger(__name__)

TASK_OPTIONS = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}
REWAKE_EVERY_SECONDS = 120


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@shared_task(name="apps.jobs.tasks.jobs_drain", bind=True, **TASK_OPTIONS)
def jobs_drain(self: Task, step_execution_id: int) -> int:
    """Claim and run the step's queued jobs one after another until none is left.
    Several drainers per step share the queue (job_claim skips locked rows)."""
    from apps.engine.jobspec import job_spec

    worker = f"{self.request.hostname or socket.gethostname()} pid {os.getpid()}"
    ran = 0
    pending: set[int] = set()
    token = inline_advances.set(pending)
    try:
        step: int | None = step_execution_id
        while step is not None:
            while (job := job_claim(step_execution_id=step, worker=worker)) is not None:
                run_job(job, job_spec)
                ran += 1
                close_old_connections()  # back to the pool between jobs; Celery only does it per task
                if pending:
                    break
            step = _advance_inline(pending)
    finally:
        inline_advances.reset(token)
        for instance_id in pending:  # not advanced here (an error): the engine worker does it
            engine_tasks.instance_advance_hint(instance_id)
    return ran


def _advance_inline(pending: set[int]) -> int | None:
    """Advance the instances whose step's last job this drainer just finished, right here
    (the engine worker would take one more Celery hop to do the same); then go on with the
    first step those advances queued jobs for (sent one wake message fewer for it, see
    jobs_create), or with another step of theirs that still has queued jobs."""
    from apps.engine.advance import advance

    continued: list[int] = []
    advanced: list[int] = []
    token = drainer_next_step.set(continued)
    try:
        while pending:
            instance_id = pending.pop()
            try:
                advance(instance_id)
            except Exception:
                logger.exception("inline advance of instance %s failed; handing it to the engine worker", instance_id)
                engine_tasks.instance_advance_hint(instance_id)
                continue
            advanced.append(instance_id)
    finally:
        drainer_next_step.reset(token)
    if continued:
        return continued[0]
    return (
        Job.objects.filter(instance_id__in=advanced, status=JobStatus.QUEUED)
        .order_by("id")
        .values_list("step_execution_id", flat=True)
        .first()
        if advanced
        else None
    )


@shared_task(name="apps.jobs.tasks.jobs_sweep", **TASK_OPTIONS)
def jobs_sweep() -> None:
    """The beat tick for jobs: end stale jobs, wake drainers for forgotten queues."""
    ended = jobs_fail_stale()
    if ended:
        logger.info("ended %d stale jobs", ended)
    for step_execution_id in jobs_unattended_steps():
        if _first_wake(step_execution_id):
            jobs_drain.delay(step_execution_id)


def _first_wake(step_execution_id: int) -> bool:
    """At most one re-wake per step every REWAKE_EVERY_SECONDS, so that a step waiting
    behind a busy worker does not pile up drain messages."""
    try:
        return bool(
            _redis().set(f"opsflow:jobs-rewake:{step_execution_id}", 1, nx=True, ex=REWAKE_EVERY_SECONDS)
        )
    except redis.RedisError:
        return True
