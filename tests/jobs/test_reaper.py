"""A job's processes never outlive the decision about them (issue #13, item 2): the jobs
worker that starts after its predecessor died (kill -9, a crash, the OOM killer) finds
the process groups that predecessor recorded on this machine, stops them and ends the
jobs; real processes, real process groups."""

from __future__ import annotations

import subprocess
import time

import pytest

from apps.jobs.executors.process import group_alive, process_is_celery_worker
from apps.jobs.models import JobStatus
from apps.jobs.services import MACHINE
from apps.jobs.tasks import reap_orphans

pytestmark = pytest.mark.django_db


@pytest.fixture
def processes():
    started: list[subprocess.Popen] = []

    def start(*argv: str) -> subprocess.Popen:
        process = subprocess.Popen(argv, start_new_session=True)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(5)


def dead_pid(processes) -> int:
    gone = processes("true")
    gone.wait(5)
    return gone.pid


def test_a_running_job_of_a_gone_worker_is_stopped_and_ends_worker_lost(
    make_job, processes, advance_hints, django_capture_on_commit_callbacks
):
    job_process = processes("sh", "-c", "trap '' TERM; sleep 60")  # ignores SIGTERM: needs the KILL
    time.sleep(0.2)
    job = make_job(status=JobStatus.RUNNING, machine=MACHINE, pid=dead_pid(processes), pgid=job_process.pid)

    with django_capture_on_commit_callbacks(execute=True):
        assert reap_orphans() == 1

    job.refresh_from_db()
    assert (job.status, job.error_class) == (JobStatus.FAILED, "WorkerLost")
    assert "its processes were stopped" in job.error_message
    assert job.verified_stopped_at is not None
    assert not group_alive(job_process.pid)
    assert job_process.wait(5) == -9
    assert advance_hints == [job.instance_id]
    assert reap_orphans() == 0  # nothing left to do: safe to run again


def test_a_job_already_declared_lost_has_its_leftover_processes_stopped(make_job, processes):
    job_process = processes("sleep", "60")
    job = make_job(status=JobStatus.FAILED, error_class="WorkerLost", machine=MACHINE, pid=dead_pid(processes),
                   pgid=job_process.pid)

    assert reap_orphans() == 1

    job.refresh_from_db()
    assert (job.status, job.error_class) == (JobStatus.FAILED, "WorkerLost")  # its first ending stays
    assert job.verified_stopped_at is not None
    assert not group_alive(job_process.pid)


def test_jobs_of_a_live_worker_or_of_another_machine_are_left_alone(make_job, processes):
    worker = processes("bash", "-c", "exec -a celery sleep 60")  # a live process named like a worker
    time.sleep(0.2)
    assert process_is_celery_worker(worker.pid)
    kept = [processes("sleep", "60") for _ in range(2)]
    alive_worker = make_job(status=JobStatus.RUNNING, machine=MACHINE, pid=worker.pid, pgid=kept[0].pid)
    elsewhere = make_job(status=JobStatus.RUNNING, machine="another-machine", pid=dead_pid(processes),
                         pgid=kept[1].pid)

    assert reap_orphans() == 0

    for job in (alive_worker, elsewhere):
        job.refresh_from_db()
        assert job.status == JobStatus.RUNNING
    assert all(group_alive(process.pid) for process in kept)


def test_a_pid_reused_by_another_program_is_not_the_worker(processes):
    other = processes("sleep", "60")
    assert not process_is_celery_worker(other.pid)
    assert not process_is_celery_worker(dead_pid(processes))
