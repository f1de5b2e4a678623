"""A claimed job run end to end: spec, local subprocess, log rows, stop, ending."""

from __future__ import annotations

import threading
import time

import pytest

from apps.core.messaging import redis_client
from apps.jobs.executors.base import JobSpec, JobSpecError
from apps.jobs.models import Job, JobStatus, LogLine
from apps.jobs.runner import run_job
from apps.jobs.services import job_claim
from apps.jobs.tasks import jobs_drain, jobs_sweep
from tests.jobs.conftest import in_thread_connection_closed


@pytest.fixture(autouse=True)
def _jobs_dir(settings, tmp_path):
    settings.OPSFLOW_JOBS_DIR = tmp_path / "jobs"
    settings.OPSFLOW_KILL_GRACE_SECONDS = 1.0


def command(text: str, **fields):
    return lambda job: JobSpec(kind="command", command=text, **fields)


def lines_of(job: Job) -> list[tuple[str, str]]:
    return list(LogLine.objects.filter(job=job).order_by("seq").values_list("stream", "line"))


@pytest.mark.django_db(transaction=True)
def test_a_job_runs_and_its_output_becomes_masked_log_rows(make_job, step, advance_hints, instance):
    make_job("web-1")
    job = job_claim(step_execution_id=step.pk, worker="w")

    finished = run_job(job, command('echo "hello $OPSFLOW_HOSTNAME pw=Sup3rSecret"; echo oops >&2; '
                                    'echo \'{"ok": true}\'', env={"OPSFLOW_HOSTNAME": "web-1"},
                                    secrets=["Sup3rSecret"]))

    assert (finished.status, finished.exit_code, finished.output) == ("succeeded", 0, {"ok": True})
    assert finished.log_bytes > 0 and finished.log_truncated is False
    assert sorted(lines_of(job)) == sorted([("stdout", "hello web-1 pw=***"), ("stderr", "oops"),
                                            ("stdout", '{"ok": true}')])
    row = LogLine.objects.filter(job=job).first()
    assert (row.step_id, row.host, row.instance_id) == ("s1", "web-1", instance.pk)
    assert not LogLine.objects.filter(line__contains="Sup3rSecret").exists()
    assert advance_hints == [instance.pk]


@pytest.mark.django_db(transaction=True)
def test_a_failing_command_is_logged_with_its_error(make_job, step, advance_hints):
    make_job()
    job = job_claim(step_execution_id=step.pk, worker="w")

    finished = run_job(job, command("exit 4"))

    assert (finished.status, finished.error_class, finished.exit_code) == ("failed", "NonZeroExit", 4)
    assert lines_of(job) == [("system", "NonZeroExit: The process exited with code 4.")]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("connection", ["agent"])
def test_remote_hosts_fail_fast_and_nothing_runs_locally(make_job, step, advance_hints, connection):
    make_job("db-1", connection=connection)
    job = job_claim(step_execution_id=step.pk, worker="w")
    built = []

    finished = run_job(job, lambda job: built.append(job) or JobSpec(kind="command", command="touch /tmp/x"))

    assert (finished.status, finished.error_class) == ("failed", "ConfigError")
    assert finished.error_message == f"no executor for {connection} yet"
    assert built == []  # the spec (and its secrets) was never even prepared
    assert lines_of(job) == [("system", f"ConfigError: no executor for {connection} yet")]


@pytest.mark.django_db(transaction=True)
def test_ssh_hosts_go_to_the_ssh_executor_never_to_a_local_process(make_job, step, advance_hints, tmp_path):
    # tests/ssh runs SSH jobs against a real sshd; here: an ssh job is never run locally.
    make_job("db-1", connection="ssh")
    job = job_claim(step_execution_id=step.pk, worker="w")
    marker = tmp_path / "ran-locally"

    finished = run_job(job, lambda job: JobSpec(kind="command", command=f"touch {marker}"))

    assert (finished.status, finished.error_class) == ("failed", "ConfigError")
    assert finished.error_message == "The job's host no longer exists."
    assert not marker.exists()


@pytest.mark.django_db(transaction=True)
def test_a_spec_error_fails_the_job_with_its_class(make_job, step, advance_hints):
    make_job()
    job = job_claim(step_execution_id=step.pk, worker="w")

    def broken(job):
        raise JobSpecError("TemplateError", "UndefinedError: 'vars' has no attribute 'nope'")

    finished = run_job(job, broken)

    assert (finished.status, finished.error_class) == ("failed", "TemplateError")
    assert "nope" in finished.error_message
    assert lines_of(job) == [("system", f"TemplateError: {finished.error_message}")]


@pytest.mark.django_db(transaction=True)
def test_a_kill_request_stops_the_running_job(make_job, step, advance_hints):
    make_job()
    job = job_claim(step_execution_id=step.pk, worker="w")

    @in_thread_connection_closed
    def request_kill():
        time.sleep(0.5)
        Job.objects.filter(pk=job.pk).update(stop_request="kill")

    stopper = threading.Thread(target=request_kill)
    stopper.start()
    started = time.monotonic()
    finished = run_job(job, command("trap '' TERM; echo running; while true; do sleep 0.2; done"))
    stopper.join()

    assert finished.status == "canceled"
    assert time.monotonic() - started < 6
    system = [line for stream, line in lines_of(job) if stream == "system"]
    assert any("Stop requested (kill)" in line for line in system)
    assert "Verified: no process of the job is still running." in system


@pytest.mark.django_db(transaction=True)
def test_drain_runs_every_queued_job_of_the_step(make_job, step, advance_hints, monkeypatch):
    for i in range(3):
        make_job(f"web-{i}")
    monkeypatch.setattr("apps.engine.jobspec.job_spec",
                        lambda job: JobSpec(kind="command", command=f"echo on {job.hostname}"))

    assert jobs_drain.apply(args=[step.pk]).get() == 3

    jobs = Job.objects.filter(step_execution=step).order_by("id")
    assert [job.status for job in jobs] == ["succeeded"] * 3
    assert sorted(LogLine.objects.values_list("line", flat=True)) == ["on web-0", "on web-1", "on web-2"]
    assert jobs_drain.apply(args=[step.pk]).get() == 0  # a redelivered message finds nothing to do


@pytest.mark.django_db(transaction=True)
def test_sweep_task_ends_stale_jobs(make_job, advance_hints, instance, settings):
    from datetime import timedelta

    from django.utils import timezone

    lost = make_job(status=JobStatus.RUNNING, heartbeat_at=timezone.now() - timedelta(minutes=5))
    sweeping_for_a_while()

    jobs_sweep.apply().get()

    lost.refresh_from_db()
    assert (lost.status, lost.error_class) == ("failed", "WorkerLost")
    assert advance_hints == [instance.pk]


def sweeping_for_a_while() -> None:
    client = redis_client()
    client.set("opsflow:jobs-sweep:last", "1", ex=30)
    client.delete("opsflow:jobs-sweep:resumed")


@pytest.mark.django_db(transaction=True)
def test_after_a_sweep_gap_silence_is_not_death(make_job, advance_hints, instance):
    """The database (or the sweeper) was away: no worker could write a heartbeat, so a
    job's silence proves nothing until a whole heartbeat timeout has passed since."""
    from datetime import timedelta

    from django.utils import timezone

    silent = make_job(status=JobStatus.RUNNING, heartbeat_at=timezone.now() - timedelta(minutes=5))
    client = redis_client()
    client.delete("opsflow:jobs-sweep:last", "opsflow:jobs-sweep:resumed")  # no sweep ran for a while

    jobs_sweep.apply().get()
    jobs_sweep.apply().get()  # the next tick is still within the grace

    silent.refresh_from_db()
    assert silent.status == JobStatus.RUNNING
    assert 0 < client.ttl("opsflow:jobs-sweep:resumed") <= 60

    client.delete("opsflow:jobs-sweep:resumed")  # the grace is over, sweeps went on
    jobs_sweep.apply().get()
    silent.refresh_from_db()
    assert (silent.status, silent.error_class) == ("failed", "WorkerLost")


@pytest.mark.django_db(transaction=True)
def test_a_job_survives_its_database_connection_being_terminated(make_job, step, advance_hints, instance):
    """A database fault is not the job's failure (issue #13, item 3): Postgres terminates
    the worker's connection twice while the job runs; the job keeps running, its lines
    and its real ending are recorded on a new connection."""
    import psycopg
    from django.db import connection

    make_job("web-1")
    job = job_claim(step_execution_id=step.pk, worker="w")
    settings_dict = connection.settings_dict
    admin_url = (f"postgres://{settings_dict['USER']}@{settings_dict['HOST']}:{settings_dict['PORT']}/"
                 f"{settings_dict['NAME']}")
    terminated: list[int] = []

    def terminate_the_others() -> None:
        for _ in range(2):
            time.sleep(1.2)
            with psycopg.connect(admin_url, autocommit=True) as admin:
                terminated.append(len(admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall()))

    chaos = threading.Thread(target=terminate_the_others)
    chaos.start()
    finished = run_job(job, command("echo before; sleep 3.5; echo after"))
    chaos.join()

    assert terminated and all(count >= 1 for count in terminated)
    assert (finished.status, finished.exit_code) == ("succeeded", 0)
    assert [line for line in lines_of(job) if line[0] == "stdout"] == [("stdout", "before"), ("stdout", "after")]
    assert advance_hints == [instance.pk]
