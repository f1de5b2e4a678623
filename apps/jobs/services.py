"""Every change of a job's state: claim, heartbeat, finish, stop, stale sweep.

Lock order (STYLE rule 2): instance -> step execution -> job. These functions lock only
job rows, so the engine may call jobs_request_stop while it holds the instance lock.
Finishing a job wakes its instance after commit (apps.core.wake, by task name; the
database is the source of truth; a lost hint only delays the instance until the engine
sweeper re-advances it). Job transitions are not audited one by one (a fan-out to
10,000 hosts would write 10,000 audit rows): operators' actions are audited by the
engine controls that cause them.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.core import live, wake
from apps.jobs.executors.base import JobResult
from apps.jobs.models import JOB_ACTIVE, JOB_DONE, JOB_LIVE, Job, JobStatus, StopRequest
from apps.jobs.publish import job_event

logger = logging.getLogger(__name__)
STALE_BATCH = 500
# This machine, as recorded on the jobs its workers claim (jobs_reap_orphans).
MACHINE = socket.gethostname()


# Set by a jobs drainer that advances the instances of the jobs it finished itself (one
# Celery hop less per step): {instance ids to advance}. None outside such a drainer.
inline_advances: ContextVar[set[int] | None] = ContextVar("opsflow_inline_advances", default=None)
# Set by a jobs drainer around those inline advances: the first step they queue jobs for
# is appended, and the drainer goes on with it itself (one wake message fewer).
drainer_next_step: ContextVar[list[int] | None] = ContextVar("opsflow_drainer_next_step", default=None)


def _engine_needed(job: Job) -> bool:
    """After a job ended (committed): does the engine have anything to do yet? Only when
    the step has no active job left (it may finish, or its canary is decided), or when
    max_parallel held hosts back (one more may start). Each ending checks after its own
    commit, so of two jobs ending together at least the later one sees the other ended."""
    if not Job.objects.filter(step_execution_id=job.step_execution_id, status__in=JOB_ACTIVE).exists():
        return True
    from apps.engine.models import StepExecution

    result = StepExecution.objects.filter(pk=job.step_execution_id).values_list("result", flat=True).first() or {}
    return int(result.get("dispatched") or 0) < int(result.get("hosts_total") or 0)


def _publish_job(job: Job) -> None:
    """Tell the instance's live viewers after commit (a burst of these is merged)."""
    live.publish(job.instance_id, [job_event(job)])


def _advance_later(job: Job) -> None:
    def hint() -> None:
        if not _engine_needed(job):
            return
        inline = inline_advances.get()
        if inline is not None:
            inline.add(job.instance_id)
        else:
            wake.instance_wake_now(job.instance_id)

    transaction.on_commit(hint)


def job_claim(*, step_execution_id: int, worker: str) -> Job | None:
    """Take the oldest queued job of the step; concurrent claimers get distinct jobs.
    One statement (no BEGIN/SELECT/UPDATE/COMMIT round trips): every step of every
    command pays for it."""
    if connection.vendor != "postgresql":
        return _job_claim_portable(step_execution_id=step_execution_id, worker=worker)
    now = timezone.now()
    job = _update_returning(
        "status = %s, started_at = %s, heartbeat_at = %s, worker = %s, machine = %s, pid = %s, updated_at = %s",
        f"id = (SELECT id FROM {Job._meta.db_table} WHERE"  # noqa: S608 (the table name; values are parameters)
        " step_execution_id = %s AND status = %s"
        " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)",
        [str(JobStatus.RUNNING), now, now, worker[:200], MACHINE, os.getpid(), now, step_execution_id,
         str(JobStatus.QUEUED)],
    )
    if job is not None:
        _publish_job(job)
    return job


def _job_claim_portable(*, step_execution_id: int, worker: str) -> Job | None:
    """The same in a transaction (SQLite, the embedded mode: it has no SKIP LOCKED, and its
    one writer at a time makes claimers take turns anyway)."""
    with transaction.atomic():
        job = (
            Job.objects.select_for_update(skip_locked=True)
            .filter(step_execution_id=step_execution_id, status=JobStatus.QUEUED)
            .order_by("id")
            .first()
        )
        if job is None:
            return None
        now = timezone.now()
        job.status = JobStatus.RUNNING
        job.started_at = job.heartbeat_at = now
        job.worker = worker[:200]
        job.machine = MACHINE
        job.pid = os.getpid()
        job.save(update_fields=["status", "started_at", "heartbeat_at", "worker", "machine", "pid", "updated_at"])
        _publish_job(job)
    return job


def _update_returning(assignments: str, condition: str, params: list[Any]) -> Job | None:
    """`UPDATE jobs_job SET <assignments> WHERE <condition> RETURNING *` as a Job (or None
    when no row matched). A single statement is atomic on its own. The SQL fragments are
    this module's constants; every value is a parameter."""
    sql = f"UPDATE {Job._meta.db_table} SET {assignments} WHERE {condition} RETURNING *"  # noqa: S608
    rows = list(Job.objects.raw(sql, params))
    return rows[0] if rows else None


def _finish_locked(job: Job, result: JobResult) -> None:
    job.status = result.status
    job.exit_code = result.exit_code
    job.error_class = result.error_class
    job.error_message = result.error_message
    job.output = result.output
    job.log_bytes = max(job.log_bytes, result.log_bytes)
    job.log_truncated = job.log_truncated or result.log_truncated
    job.finished_at = timezone.now()
    if result.verified_stopped:
        job.verified_stopped_at = job.finished_at
    job.save(
        update_fields=[
            "status", "exit_code", "error_class", "error_message", "output",
            "log_bytes", "log_truncated", "finished_at", "verified_stopped_at", "updated_at",
        ]
    )
    _publish_job(job)
    _advance_later(job)


def job_finish(*, job_id: int, result: JobResult) -> Job:
    """Record how the job ended. Idempotent: a job that already ended (finished twice, or
    failed by the stale sweeper meanwhile) keeps its first ending. One statement, like
    the claim."""
    if connection.vendor != "postgresql":
        with transaction.atomic():
            job = Job.objects.select_for_update().get(pk=job_id)
            if job.status not in JOB_DONE:
                _finish_locked(job, result)
            elif result.verified_stopped and job.verified_stopped_at is None:
                job.verified_stopped_at = timezone.now()
                job.save(update_fields=["verified_stopped_at", "updated_at"])
        return job
    now = timezone.now()
    output = Job._meta.get_field("output").get_db_prep_save(result.output, connection)
    job = _update_returning(
        "status = %s, exit_code = %s, error_class = %s, error_message = %s, output = %s,"
        " log_bytes = GREATEST(log_bytes, %s), log_truncated = log_truncated OR %s, finished_at = %s, updated_at = %s,"
        " verified_stopped_at = COALESCE(verified_stopped_at, %s)",
        "id = %s AND NOT (status = ANY(%s))",
        [str(result.status), result.exit_code, result.error_class, result.error_message, output, result.log_bytes,
         result.log_truncated, now, now, now if result.verified_stopped else None, job_id,
         sorted(str(status) for status in JOB_DONE)],
    )
    if job is None:  # it had ended already: only the news that nothing of it runs is added
        if result.verified_stopped:
            Job.objects.filter(pk=job_id, verified_stopped_at__isnull=True).update(verified_stopped_at=now)
        return Job.objects.get(pk=job_id)
    _publish_job(job)
    _advance_later(job)
    return job


def job_process_started(job_id: int, pgid: int) -> None:
    """The job's process runs, in process group `pgid`: from now on the job may have
    processes to stop, and only the executor's check that none is left clears that."""
    Job.objects.filter(pk=job_id).update(pgid=pgid, updated_at=timezone.now())


def job_heartbeat(job_id: int) -> bool:
    """The worker still runs the job; False when the job is no longer running."""
    return bool(Job.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(heartbeat_at=timezone.now()))


def job_stop_requested(job_id: int) -> str:
    """The pending stop request ("", "term" or "kill"). A job that is no longer running
    (ended by the stale sweeper, or deleted with its instance) must not keep a process
    alive: it answers "kill"."""
    row = Job.objects.filter(pk=job_id).values_list("status", "stop_request").first()
    if row is None or row[0] != JobStatus.RUNNING:
        return StopRequest.KILL
    return row[1]


def jobs_request_stop(*, instance_id: int, mode: str, step_id: str | None = None) -> int:
    """Ask the workers to stop the instance's running jobs (mode "term" or "kill"; a
    kill is never downgraded); queued jobs are canceled at once. Returns how many jobs
    were affected. The caller (the engine) re-evaluates its steps itself."""
    if mode not in (StopRequest.TERM, StopRequest.KILL):
        raise ValueError(f"unknown stop mode {mode!r}")
    jobs = Job.objects.filter(instance_id=instance_id)
    if step_id is not None:
        jobs = jobs.filter(step_id=step_id)
    now = timezone.now()
    stronger = [StopRequest.NONE] if mode == StopRequest.TERM else [StopRequest.NONE, StopRequest.TERM]
    with transaction.atomic():
        canceled = jobs.filter(status=JobStatus.QUEUED).update(
            status=JobStatus.CANCELED, finished_at=now, error_message="Canceled before it started.", updated_at=now
        )
        stopping = jobs.filter(status=JobStatus.RUNNING, stop_request__in=stronger).update(
            stop_request=mode, updated_at=now
        )
    return canceled + stopping


def _stale_ending(job: Job, now: datetime, *, heartbeats: bool = True) -> JobResult | None:
    """How a stale job ends (DESIGN §3, issue 4 item 9), or None if it is not stale."""
    if job.status == JobStatus.QUEUED:
        waited = timedelta(seconds=settings.OPSFLOW_JOB_QUEUE_TIMEOUT)
        if job.queued_at < now - waited:
            # Timeout (transient) rather than a class outside the contract: the step may
            # be retried once a jobs worker is back.
            return JobResult.error(
                "Timeout",
                f"The job was not started within {waited} of being queued: "
                "is a jobs worker running (celery -A config worker -Q jobs)?",
            )
        return None
    if job.timeout_seconds and job.started_at and job.started_at < now - timedelta(seconds=2 * job.timeout_seconds):
        result = JobResult.error("Timeout", f"The job ran more than twice its timeout of {job.timeout_seconds} s.")
        result.status = JobStatus.TIMEOUT
        return result
    silent = timedelta(seconds=settings.OPSFLOW_JOB_HEARTBEAT_TIMEOUT)
    if heartbeats and (job.heartbeat_at is None or job.heartbeat_at < now - silent):
        return JobResult.error(
            "WorkerLost",
            f"The worker running the job ({job.worker or 'unknown'}, pid {job.pid}) stopped reporting "
            f"for more than {silent}; it probably died.",
        )
    return None


def _stale_candidates(now: datetime, *, heartbeats: bool = True) -> list[int]:
    waited = now - timedelta(seconds=settings.OPSFLOW_JOB_QUEUE_TIMEOUT)
    silent = now - timedelta(seconds=settings.OPSFLOW_JOB_HEARTBEAT_TIMEOUT)
    queued = Job.objects.filter(status=JobStatus.QUEUED, queued_at__lt=waited)
    # A long queue that workers are working through is a backlog, not a loss: only the
    # steps that had no job started for the whole wait count as stalled.
    busy_steps = Job.objects.filter(started_at__gte=waited, step_execution_id__in=queued.values("step_execution_id"))
    queued = queued.exclude(step_execution_id__in=busy_steps.values("step_execution_id"))
    ids = list(queued.order_by("id").values_list("pk", flat=True)[:STALE_BATCH])
    running = Job.objects.filter(status=JobStatus.RUNNING)
    if heartbeats:
        ids += running.exclude(heartbeat_at__gte=silent).values_list("pk", flat=True)[:STALE_BATCH]
    # Running jobs are few (one per busy jobs-worker slot): the 2x-timeout rule is checked here.
    for pk, started_at, timeout in running.filter(timeout_seconds__isnull=False).values_list(
        "pk", "started_at", "timeout_seconds"
    ):
        if started_at and started_at < now - timedelta(seconds=2 * timeout):
            ids.append(pk)
    return sorted(set(ids))


def jobs_fail_stale(now: datetime | None = None, *, heartbeats: bool = True) -> int:
    """The sweeper's rules for jobs nobody will finish (DESIGN §3):
    - running with no heartbeat for OPSFLOW_JOB_HEARTBEAT_TIMEOUT -> failed, WorkerLost
      (not with heartbeats=False: right after the database or the sweeper itself was
      away, silence proves nothing, since no worker could write a heartbeat);
    - running more than twice its timeout -> timeout, Timeout;
    - queued longer than OPSFLOW_JOB_QUEUE_TIMEOUT while its step's queue made no
      progress -> failed, Timeout.
    Each ending wakes the job's instance. Returns how many jobs were ended."""
    now = now or timezone.now()
    ended = 0
    for job_id in _stale_candidates(now, heartbeats=heartbeats):
        with transaction.atomic():
            job = Job.objects.select_for_update(skip_locked=True).filter(pk=job_id).first()
            if job is None or job.status in JOB_DONE:
                continue
            ending = _stale_ending(job, now, heartbeats=heartbeats)
            if ending is None:
                continue
            if job.status == JobStatus.RUNNING:
                job.stop_request = StopRequest.KILL  # if its worker is alive after all, it kills the process
                job.save(update_fields=["stop_request"])
            _finish_locked(job, ending)
            ended += 1
    return ended


def jobs_unattended_steps(now: datetime | None = None, *, idle_seconds: int = 60) -> list[int]:
    """Steps whose queued jobs have waited `idle_seconds` while none of the step's jobs
    runs: their drain messages may have been lost (a lost Celery message must delay a
    job, never lose it), so the sweeper wakes a drainer for them."""
    now = now or timezone.now()
    waiting = set(
        Job.objects.filter(status=JobStatus.QUEUED, queued_at__lt=now - timedelta(seconds=idle_seconds))
        .order_by("step_execution_id")
        .values_list("step_execution_id", flat=True)
        .distinct()[:STALE_BATCH]
    )
    busy = set(
        Job.objects.filter(status=JobStatus.RUNNING, step_execution_id__in=waiting)
        .order_by()
        .values_list("step_execution_id", flat=True)
        .distinct()
    )
    return sorted(waiting - busy)


def jobs_reap_orphans(
    *,
    machine: str = MACHINE,
    worker_alive: Callable[[int], bool],
    stop_group: Callable[[int], bool],
) -> int:
    """Jobs claimed on this machine by a worker process that is gone (killed, crashed,
    OOM): stop whatever of their processes still runs, then end them. Their processes
    must never outlive the decision about them (a job declared lost must not go on
    touching the host): a running job is stopped and ends failed with WorkerLost (at
    once, not after the heartbeat timeout), a job already ended by the sweeper is
    stopped and marked verified. Called by every jobs worker at start-up and then
    periodically (apps.jobs.tasks). Returns how many jobs were reaped."""
    candidates = (
        Job.objects.filter(JOB_LIVE, machine=machine, pid__isnull=False)
        .values_list("pk", "pid", "pgid")
        .order_by("pk")[:STALE_BATCH]
    )
    reaped = 0
    for job_id, pid, pgid in candidates:
        if worker_alive(pid):
            continue
        verified = stop_group(pgid) if pgid is not None else True
        result = JobResult.error(
            "WorkerLost",
            f"The jobs worker that ran the job (pid {pid} on {machine}) is gone; "
            + ("its processes were stopped." if verified else "its processes could not all be stopped."),
        )
        result.verified_stopped = verified
        with transaction.atomic():
            job = Job.objects.select_for_update().filter(pk=job_id).first()
            if job is None or job.pid != pid:
                continue
            if job.status == JobStatus.RUNNING:
                _finish_locked(job, result)
            elif verified and job.verified_stopped_at is None:
                job.verified_stopped_at = timezone.now()
                job.save(update_fields=["verified_stopped_at", "updated_at"])
        logger.warning("reaped job %s of the gone worker pid %s (verified stopped: %s)", job_id, pid, verified)
        reaped += 1
    return reaped
