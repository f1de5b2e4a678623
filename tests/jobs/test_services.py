"""Job state changes: claim, finish, heartbeat, stop requests, the stale sweep."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.engine.models import StepExecution
from apps.jobs.executors.base import JobResult
from apps.jobs.models import Job, JobStatus
from apps.jobs.services import (
    job_claim,
    job_finish,
    job_heartbeat,
    job_stop_requested,
    jobs_fail_stale,
    jobs_request_stop,
    jobs_unattended_steps,
)
from tests.jobs.conftest import in_thread_connection_closed


@pytest.mark.django_db
def test_claim_takes_the_oldest_queued_job_and_marks_it_running(make_job, step):
    first, second = make_job("a"), make_job("b")
    make_job("done", status=JobStatus.SUCCEEDED)

    job = job_claim(step_execution_id=step.pk, worker="w1")

    assert job.pk == first.pk
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING
    assert job.worker == "w1" and job.pid and job.started_at and job.heartbeat_at
    assert job_claim(step_execution_id=step.pk, worker="w1").pk == second.pk
    assert job_claim(step_execution_id=step.pk, worker="w1") is None


@pytest.mark.django_db(transaction=True)
def test_claim_skips_a_job_locked_by_another_claimer(make_job, step):
    locked, free = make_job("a"), make_job("b")
    holding, release = threading.Event(), threading.Event()

    @in_thread_connection_closed
    def hold_lock() -> None:
        with transaction.atomic():
            Job.objects.select_for_update().get(pk=locked.pk)
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold_lock)
    holder.start()
    holding.wait(10)
    try:
        claimed = job_claim(step_execution_id=step.pk, worker="w2")  # must not wait for the lock
    finally:
        release.set()
        holder.join()
    assert claimed.pk == free.pk


@pytest.mark.django_db(transaction=True)
def test_concurrent_claimers_claim_distinct_jobs(make_job, step):
    jobs = {make_job(f"h{i}").pk for i in range(30)}

    @in_thread_connection_closed
    def drain(worker: int) -> list[int]:
        claimed = []
        while (job := job_claim(step_execution_id=step.pk, worker=f"w{worker}")) is not None:
            claimed.append(job.pk)
        return claimed

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(drain, range(4)))

    claimed = [pk for result in results for pk in result]
    assert sorted(claimed) == sorted(jobs)  # every job once, none twice
    assert Job.objects.filter(status=JobStatus.RUNNING).count() == 30


@pytest.mark.django_db
def test_finish_records_the_result_and_wakes_the_instance_once(make_job, advance_hints, instance,
                                                               django_capture_on_commit_callbacks):
    job = make_job(status=JobStatus.RUNNING)
    result = JobResult(status=JobStatus.FAILED, exit_code=3, error_class="NonZeroExit",
                       error_message="The process exited with code 3.", output={"a": 1}, log_bytes=120)

    with django_capture_on_commit_callbacks(execute=True):
        job_finish(job_id=job.pk, result=result)
    with django_capture_on_commit_callbacks(execute=True):
        again = job_finish(job_id=job.pk, result=JobResult(status=JobStatus.SUCCEEDED, exit_code=0))

    job.refresh_from_db()
    assert (job.status, job.exit_code, job.error_class, job.output, job.log_bytes) == (
        "failed", 3, "NonZeroExit", {"a": 1}, 120)
    assert job.finished_at is not None
    assert again.status == "failed"
    assert advance_hints == [instance.pk]


@pytest.mark.django_db
def test_heartbeat_and_stop_request_of_a_running_job(make_job):
    job = make_job(status=JobStatus.RUNNING, heartbeat_at=timezone.now() - timedelta(minutes=5))

    assert job_heartbeat(job.pk) is True
    job.refresh_from_db()
    assert timezone.now() - job.heartbeat_at < timedelta(seconds=5)
    assert job_stop_requested(job.pk) == ""
    Job.objects.filter(pk=job.pk).update(stop_request="term")
    assert job_stop_requested(job.pk) == "term"


@pytest.mark.django_db
def test_a_job_that_is_no_longer_running_must_be_killed(make_job):
    ended = make_job(status=JobStatus.FAILED)

    assert job_heartbeat(ended.pk) is False
    assert job_stop_requested(ended.pk) == "kill"
    assert job_stop_requested(999999) == "kill"


@pytest.mark.django_db
def test_request_stop_cancels_queued_jobs_and_flags_running_ones(make_job, instance, step):
    queued, running, done = make_job("q"), make_job("r", status=JobStatus.RUNNING), make_job("d", status="succeeded")

    assert jobs_request_stop(instance_id=instance.pk, mode="term") == 2
    assert jobs_request_stop(instance_id=instance.pk, mode="term") == 0  # a double click
    assert jobs_request_stop(instance_id=instance.pk, mode="kill") == 1  # kill is stronger
    assert jobs_request_stop(instance_id=instance.pk, mode="term") == 0  # and never downgraded

    queued.refresh_from_db(), running.refresh_from_db(), done.refresh_from_db()
    assert (queued.status, queued.finished_at is not None) == ("canceled", True)
    assert (running.status, running.stop_request) == ("running", "kill")
    assert (done.status, done.stop_request) == ("succeeded", "")


@pytest.mark.django_db
def test_request_stop_can_target_one_step(make_job, instance):
    other_step = StepExecution.objects.create(instance=instance, step_id="s2", step_type="script", attempt=1)
    mine = make_job("a", status=JobStatus.RUNNING)
    other = make_job("a", on_step=other_step, status=JobStatus.RUNNING)

    jobs_request_stop(instance_id=instance.pk, mode="kill", step_id="s2")

    mine.refresh_from_db(), other.refresh_from_db()
    assert (mine.stop_request, other.stop_request) == ("", "kill")


@pytest.mark.django_db
def test_request_stop_rejects_an_unknown_mode(instance):
    with pytest.raises(ValueError, match="unknown stop mode"):
        jobs_request_stop(instance_id=instance.pk, mode="standard")


def _age(job: Job, **fields) -> Job:
    Job.objects.filter(pk=job.pk).update(**fields)
    job.refresh_from_db()
    return job


@pytest.mark.django_db
def test_stale_sweep_rules(make_job, advance_hints, instance, settings, django_capture_on_commit_callbacks):
    now = timezone.now()
    settings.OPSFLOW_JOB_HEARTBEAT_TIMEOUT = 60
    settings.OPSFLOW_JOB_QUEUE_TIMEOUT = 1800
    lost = make_job("lost", status=JobStatus.RUNNING, started_at=now - timedelta(minutes=3),
                    heartbeat_at=now - timedelta(seconds=61), worker="node-1", pid=4242)
    overdue = make_job("overdue", status=JobStatus.RUNNING, timeout_seconds=60,
                       started_at=now - timedelta(seconds=121), heartbeat_at=now)
    healthy = make_job("healthy", status=JobStatus.RUNNING, timeout_seconds=60,
                       started_at=now - timedelta(seconds=100), heartbeat_at=now - timedelta(seconds=30))
    later = StepExecution.objects.create(instance=instance, step_id="s2", step_type="command", attempt=1)
    forgotten = _age(make_job("forgotten", on_step=later), queued_at=now - timedelta(minutes=31))
    fresh = _age(make_job("fresh", on_step=later), queued_at=now - timedelta(minutes=29))

    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_fail_stale(now) == 3
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_fail_stale(now) == 0  # safe to run twice

    for job in (lost, overdue, healthy, forgotten, fresh):
        job.refresh_from_db()
    assert (lost.status, lost.error_class) == ("failed", "WorkerLost")
    assert "node-1" in lost.error_message and "4242" in lost.error_message
    assert lost.stop_request == "kill"  # its worker, if alive after all, kills the process
    assert (overdue.status, overdue.error_class) == ("timeout", "Timeout")
    assert "twice its timeout" in overdue.error_message
    assert (forgotten.status, forgotten.error_class) == ("failed", "Timeout")
    assert "jobs worker" in forgotten.error_message
    assert all(job.finished_at for job in (lost, overdue, forgotten))
    assert (healthy.status, fresh.status) == ("running", "queued")
    # Each step still has an active job: the engine has nothing to decide yet.
    assert advance_hints == []
    with django_capture_on_commit_callbacks(execute=True):
        job_finish(job_id=healthy.pk, result=JobResult(status=JobStatus.SUCCEEDED, exit_code=0))
        job_finish(job_id=fresh.pk, result=JobResult.error("Timeout", "gave up"))
    assert advance_hints == [instance.pk] * 2  # each step's last ending wakes the instance


@pytest.mark.django_db
def test_a_long_queue_that_workers_are_working_through_is_not_stale(make_job):
    now = timezone.now()
    waiting = _age(make_job("waiting"), queued_at=now - timedelta(minutes=40))
    make_job("busy", status=JobStatus.RUNNING, started_at=now - timedelta(minutes=2), heartbeat_at=now)

    assert jobs_fail_stale(now) == 0
    waiting.refresh_from_db()
    assert waiting.status == "queued"


@pytest.mark.django_db
def test_unattended_steps_are_those_with_old_queued_jobs_and_none_running(make_job, step, instance):
    now = timezone.now()
    _age(make_job("old"), queued_at=now - timedelta(seconds=90))
    busy_step = StepExecution.objects.create(instance=instance, step_id="s2", step_type="command", attempt=1)
    _age(make_job("x", on_step=busy_step), queued_at=now - timedelta(seconds=90))
    make_job("y", on_step=busy_step, status=JobStatus.RUNNING)
    quiet_step = StepExecution.objects.create(instance=instance, step_id="s3", step_type="command", attempt=1)
    make_job("z", on_step=quiet_step)  # queued just now

    assert jobs_unattended_steps(now) == [step.pk]
