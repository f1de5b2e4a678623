"""Running one claimed job: spec, executor, log rows, stop polling, heartbeats, ending."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from django.utils import timezone

from apps.jobs.executors.base import Executor, JobResult, JobSpec, JobSpecError, OutputLine
from apps.jobs.executors.local import LocalExecutor
from apps.jobs.logs import job_log_append
from apps.jobs.models import Job, JobStatus, LogStream
from apps.jobs.services import job_finish, job_heartbeat, job_process_started, job_stop_requested

logger = logging.getLogger(__name__)

SpecBuilder = Callable[[Job], JobSpec]


def executor_for(job: Job) -> Executor:
    """Only `local` hosts have an executor yet. Nothing ever runs on the control plane in
    place of a remote host."""
    connection = (job.host or {}).get("connection") or "local"
    if connection != "local":
        raise JobSpecError("ConfigError", f"no executor for {connection} yet")
    return LocalExecutor()


def store_lines(job: Job, lines: list[OutputLine]) -> None:
    job_log_append(job.instance_id, job_id=job.pk, step_id=job.step_id, host=job.hostname, lines=lines)


def execute(job: Job, spec_builder: SpecBuilder) -> JobResult:
    try:
        executor = executor_for(job)
        spec = spec_builder(job)
    except JobSpecError as exc:
        return JobResult.error(exc.error_class, exc.message)
    return executor.run(
        spec,
        on_lines=partial(store_lines, job),
        should_stop=partial(job_stop_requested, job.pk),
        heartbeat=partial(job_heartbeat, job.pk),
        on_start=partial(job_process_started, job.pk),
    )


def run_job(job: Job, spec_builder: SpecBuilder) -> Job:
    """Run a job claimed by this worker to its end and record it (never raises for the
    job's own failures)."""
    try:
        result = execute(job, spec_builder)
    except Exception as exc:  # a bug or a lost database in the worker, not the job's fault
        logger.exception("job %s could not be run", job.pk)
        result = JobResult.error("WorkerLost", f"The jobs worker failed while running the job: {exc}")
    if result.status != JobStatus.SUCCEEDED and result.error_class:
        ending = OutputLine(LogStream.SYSTEM, f"{result.error_class}: {result.error_message}", timezone.now())
        try:
            store_lines(job, [ending])
        except Exception:
            logger.warning("could not log the end of job %s", job.pk, exc_info=True)
    return job_finish(job_id=job.pk, result=result)
