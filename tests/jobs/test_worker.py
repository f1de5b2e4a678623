"""A real Celery worker on the `jobs` queue drains a step's jobs (real Redis, Postgres)."""

from __future__ import annotations

import time

import pytest

from apps.jobs.executors.base import JobSpec
from apps.jobs.models import Job, LogLine
from apps.jobs.tasks import jobs_drain


@pytest.mark.worker
@pytest.mark.xdist_group("worker")
def test_a_jobs_worker_runs_every_queued_job_of_a_step(worker, make_job, step, advance_hints, monkeypatch):
    advanced: list[int] = []
    monkeypatch.setattr("apps.engine.advance.advance", advanced.append)
    for i in range(4):
        make_job(f"web-{i}")
    monkeypatch.setattr(
        "apps.engine.jobspec.job_spec",
        lambda job: JobSpec(kind="script", command=f'echo "hello from {job.hostname}"\necho \'{{"n": 1}}\''),
    )

    jobs_drain.delay(step.pk)  # routed to the `jobs` queue by CELERY_TASK_ROUTES

    deadline = time.monotonic() + 30
    while Job.objects.filter(step_execution=step, status__in=["queued", "running"]).exists():
        assert time.monotonic() < deadline, "the jobs worker did not finish the jobs"
        time.sleep(0.1)
    jobs = list(Job.objects.filter(step_execution=step).order_by("id"))
    assert [(job.status, job.exit_code, job.output) for job in jobs] == [("succeeded", 0, {"n": 1})] * 4
    assert all(job.worker and job.pid for job in jobs)
    hello = sorted(LogLine.objects.filter(line__startswith="hello").values_list("line", flat=True))
    assert hello == [f"hello from web-{i}" for i in range(4)]
    # The drainer that ran the step's last job advanced the instance itself, once; no
    # Celery hop to the engine worker, and none for the jobs that ended before it.
    assert advanced == [step.instance_id]
    assert advance_hints == []
