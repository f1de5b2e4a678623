"""Celery entry points of the jobs worker: thin, id-only, safe to run twice."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from functools import partial
from typing import Any

import redis
from celery import Task, shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import close_old_connections

from apps.core import wake
from apps.core.messaging import TASK_OPTIONS, redis_client
from apps.jobs.executors.process import process_is_celery_worker, stop_group
from apps.jobs.models import Job, JobStatus
from apps.jobs.runner import run_job
from apps.jobs.services import (
    drainer_next_step,
    inline_advances,
    job_claim,
    jobs_fail_stale,
    jobs_reap_orphans,
    jobs_unattended_steps,
)

logger = logging.getLogger(__name__)




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
            wake.instance_wake_now(instance_id)
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
                wake.instance_wake_now(instance_id)
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
    ended = jobs_fail_stale(heartbeats=_sweeping_without_gap())
    _sweep_done()
    if ended:
        logger.info("ended %d stale jobs", ended)
    for step_execution_id in jobs_unattended_steps(idle_seconds=settings.OPSFLOW_STALL_SECONDS):
        if _first_wake(step_execution_id):
            jobs_drain.delay(step_execution_id)


SWEEP_GAP_SECONDS = 30


def _sweeping_without_gap() -> bool:
    """Whether sweeps have run without a gap for a whole heartbeat timeout. After the
    database (or Redis, or the sweeper itself) was away, workers could not write their
    heartbeats either: their silence is not their death, so the heartbeat rule waits a
    whole timeout from the first sweep after the gap (a worker that really died on this
    machine is found sooner by its successor's reaper)."""
    try:
        client = redis_client()
        if not client.exists("opsflow:jobs-sweep:last"):  # the previous sweeps failed, or none ran
            client.set("opsflow:jobs-sweep:resumed", "1", ex=settings.OPSFLOW_JOB_HEARTBEAT_TIMEOUT)
            return False
        return not client.exists("opsflow:jobs-sweep:resumed")
    except redis.RedisError:
        return False


def _sweep_done() -> None:
    with contextlib.suppress(redis.RedisError):
        redis_client().set("opsflow:jobs-sweep:last", "1", ex=SWEEP_GAP_SECONDS)


def _first_wake(step_execution_id: int) -> bool:
    """At most one re-wake per step every OPSFLOW_STALL_SECONDS, so that a step waiting
    behind a busy worker does not pile up drain messages."""
    try:
        return bool(redis_client().set(f"opsflow:jobs-rewake:{step_execution_id}", 1, nx=True,
                                 ex=max(1, int(settings.OPSFLOW_STALL_SECONDS))))
    except redis.RedisError:
        return True


# --- orphans of a gone jobs worker on this machine ------------------------------------
def reap_orphans() -> int:
    return jobs_reap_orphans(
        worker_alive=process_is_celery_worker,
        stop_group=partial(stop_group, grace=settings.OPSFLOW_KILL_GRACE_SECONDS),
    )


def _reap_forever(every: float) -> None:
    while True:
        try:
            reap_orphans()
        except Exception:  # the database may be away for a while: try again next time
            logger.warning("could not look for orphaned jobs", exc_info=True)
        finally:
            close_old_connections()
        threading.Event().wait(every)


@worker_ready.connect
def _start_reaper(sender: Any = None, **kwargs: Any) -> None:
    """In a worker that runs jobs: reap what a predecessor on this machine left running
    (it was killed with -9, say) at once, then keep looking (DESIGN §3: a job killed with
    its worker is reported, and its processes never outlive that report)."""
    every = settings.OPSFLOW_JOB_REAPER_SECONDS
    queues = getattr(getattr(getattr(sender, "app", None), "amqp", None), "queues", None)
    consumes = set(getattr(queues, "consume_from", None) or {})
    if every <= 0 or "jobs" not in consumes:
        return
    threading.Thread(target=_reap_forever, args=(every,), name="opsflow-job-reaper", daemon=True).start()
