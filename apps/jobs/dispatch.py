"""Creating a step's jobs in bulk and waking the jobs workers (the engine's fan-out).

One Celery message per host would cost ~0.8 ms each (8 s for 10,000 hosts); instead the
rows are inserted in bulk and a few `jobs_drain` messages per step wake workers that
claim queued rows with SKIP LOCKED until none is left.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.jobs.models import Job, JobStatus
from apps.jobs.services import drainer_next_step

# Connections with no executor yet: their jobs fail at once (ssh has one: executors/ssh.py).
NO_EXECUTOR_YET = frozenset({"agent"})


def jobs_create(
    *,
    step: Any,
    hosts: list[dict[str, Any]],
    attempt: int,
    timeout_seconds: int | None,
    canary: bool = False,
) -> int:
    """Queue one job per host; hosts with no executor yet fail fast with ConfigError.

    Returns the number of jobs queued for execution."""
    now = timezone.now()
    rows = []
    for host in hosts:
        remote = host.get("connection") in NO_EXECUTOR_YET
        rows.append(
            Job(
                instance_id=step.instance_id,
                step_execution=step,
                step_id=step.step_id,
                attempt=attempt,
                host_id=host.get("id"),
                hostname=host["hostname"],
                host=host,
                is_canary=canary,
                timeout_seconds=timeout_seconds,
                status=JobStatus.FAILED if remote else JobStatus.QUEUED,
                error_class="ConfigError" if remote else "",
                error_message=f"no executor for {host.get('connection')} yet" if remote else "",
                finished_at=now if remote else None,
            )
        )
    Job.objects.bulk_create(rows, batch_size=2000)
    queued = sum(1 for row in rows if row.status == JobStatus.QUEUED)
    if queued:
        from apps.jobs.tasks import jobs_drain

        drainers = min(queued, settings.OPSFLOW_JOB_DRAINERS)
        next_step = drainer_next_step.get()
        if next_step is not None and not next_step:
            # A drainer advancing inline goes on with this step itself. Should it die before
            # its claim, the sweeper wakes a drainer for the step (jobs_unattended_steps).
            next_step.append(step.pk)
            drainers -= 1
        if drainers:
            transaction.on_commit(partial(_wake, jobs_drain, step.pk, drainers))
    return queued


def _wake(task: Any, step_execution_id: int, count: int) -> None:
    for _ in range(count):
        task.delay(step_execution_id)


def jobs_cancel_queued(*, step: Any) -> int:
    now = timezone.now()
    return Job.objects.filter(step_execution=step, status=JobStatus.QUEUED).update(
        status=JobStatus.CANCELED, finished_at=now, error_message="canceled before it started", updated_at=now
    )
