"""Running one claimed job: spec, executor, log rows, stop polling, heartbeats, ending."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from django.db import InterfaceError, OperationalError, connection
from django.utils import timezone

from apps.jobs.executors.base import Executor, JobResult, JobSpec, JobSpecError, OutputLine
from apps.jobs.executors.local import LocalExecutor
from apps.jobs.executors.ssh import SSHExecutor
from apps.jobs.logs import job_log_append
from apps.jobs.models import Job, JobStatus, LogStream
from apps.jobs.services import job_finish, job_heartbeat, job_process_started, job_stop_requested

logger = logging.getLogger(__name__)

SpecBuilder = Callable[[Job], JobSpec]
T = TypeVar("T")
# How long the runner keeps trying to reach the database for what must not be lost: the
# job's lines and its ending (a Postgres restart or failover, a terminated backend).
# Heartbeats and stop polls are only tried once per round: their next round comes soon.
RECORD_PATIENCE_SECONDS = 600.0


def with_database(call: Callable[..., T], *args: Any, patience: float = 0.0, what: str = "") -> T:
    """`call(*args)`, surviving a lost database connection: the broken connection is
    dropped (the pool hands out a checked one next time) and the call is repeated with
    backoff for up to `patience` seconds. A database fault is not the job's failure: the
    job keeps running and reports its real result once the database answers again."""
    deadline = time.monotonic() + patience
    delay = 0.25
    while True:
        try:
            return call(*args)
        except (OperationalError, InterfaceError):
            connection.close()
            if time.monotonic() + delay > deadline:
                raise
            logger.warning("database unavailable while recording %s; retrying in %.1f s", what, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def executor_for(job: Job) -> Executor:
    """`local` and `ssh` hosts have an executor (agent: not yet). Nothing ever runs on the
    control plane in place of a remote host."""
    connection = (job.host or {}).get("connection") or "local"
    if connection == "ssh":
        return SSHExecutor(job.host)
    if connection != "local":
        raise JobSpecError("ConfigError", f"no executor for {connection} yet")
    return LocalExecutor()


def store_lines(job: Job, lines: list[OutputLine]) -> None:
    job_log_append(job.instance_id, job_id=job.pk, step_id=job.step_id, host=job.hostname, lines=lines)


def execute(job: Job, spec_builder: SpecBuilder) -> JobResult:
    try:
        executor = executor_for(job)
        spec = with_database(spec_builder, job, patience=RECORD_PATIENCE_SECONDS, what="the job's spec")
    except JobSpecError as exc:
        return JobResult.error(exc.error_class, exc.message)
    return executor.run(
        spec,
        on_lines=partial(with_database, store_lines, job, patience=RECORD_PATIENCE_SECONDS, what="log lines"),
        should_stop=partial(with_database, job_stop_requested, job.pk, what="a stop poll"),
        heartbeat=partial(with_database, job_heartbeat, job.pk, what="a heartbeat"),
        on_start=partial(with_database, job_process_started, job.pk, patience=RECORD_PATIENCE_SECONDS,
                         what="the process group"),
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
            with_database(store_lines, job, [ending], patience=RECORD_PATIENCE_SECONDS, what="log lines")
        except Exception:
            logger.warning("could not log the end of job %s", job.pk, exc_info=True)
    return with_database(partial(job_finish, job_id=job.pk, result=result), patience=RECORD_PATIENCE_SECONDS,
                         what="the job's end")
