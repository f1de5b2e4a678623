"""Cancel tiers with the real jobs worker and real local processes (issue 12 items 4, 11;
DESIGN §6): force sends SIGTERM and ends the run `canceled` without waiting; kill sends
SIGTERM, SIGKILL after 5 s, and ends only once nothing of the job runs; the job rows
and the instance detail say which processes may still run."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.engine.controls import instance_cancel
from apps.engine.models import Timer, TimerKind, WorkflowInstance
from apps.engine.timers import timer_fire
from apps.jobs.executors.process import group_alive
from apps.jobs.models import Job, LogLine
from tests.engine.conftest import step_of, until, wait_for
from tests.engine.test_steps_e2e import command

pytestmark = [pytest.mark.worker, pytest.mark.xdist_group("worker")]

# Ignores SIGTERM (the disposition is inherited by sleep): only SIGKILL stops it.
STUBBORN = "trap '' TERM; echo ready; sleep 60"


def controls(instance, owner):
    return {"instance_id": instance.pk, "organization_id": instance.organization_id, "actor": owner}


def started(instance, step_id: str = "work") -> Job:
    """The job's command is running (it printed `ready`), its process group recorded."""
    until(lambda: LogLine.objects.filter(instance=instance, step_id=step_id, line="ready").exists(),
          message="the job never printed ready")
    job = Job.objects.get(instance=instance, step_id=step_id)
    assert job.pgid and group_alive(job.pgid)
    return job


def detail(api, owner, org, instance) -> dict:
    response = api(owner, org).get(f"/api/instances/{instance.pk}/")
    assert response.status_code == 200
    return response.json()


def test_force_cancel_ends_canceled_at_once_and_a_later_kill_stops_what_is_left(
    worker, make_workflow, run, localhost, owner, org, api
):
    instance = run(make_workflow([command("work", STUBBORN)]), hosts=[localhost.pk])
    job = started(instance)

    asked = time.monotonic()
    assert instance_cancel(**controls(instance, owner), mode="force").status == "force_canceling"
    instance = wait_for(instance, status="canceled", timeout=10)
    assert time.monotonic() - asked < 4  # it did not wait for the 5 s SIGKILL grace, nor for the job

    job.refresh_from_db()
    assert (job.status, job.stop_request, job.verified_stopped_at) == ("running", "term", None)
    assert group_alive(job.pgid)  # SIGTERM was ignored; no SIGKILL followed
    assert step_of(instance, "work").status == "canceled"
    body = detail(api, owner, org, instance)
    assert body["status"] == "canceled" and body["live_jobs"] == 1
    assert body["steps"][0]["live_jobs"] == 1
    shown = body["steps"][0]["jobs"][0]
    assert (shown["may_be_running"], shown["verified_stopped_at"], shown["pgid"]) == (True, None, job.pgid)

    # DESIGN §6: kill is allowed on a canceled run with live jobs (the API accepts mode kill).
    response = api(owner, org).post(f"/api/instances/{instance.pk}/cancel/", {"mode": "kill"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "kill_canceling"
    instance = wait_for(instance, status="canceled", timeout=20)

    job.refresh_from_db()
    assert job.verified_stopped_at is not None and job.status == "canceled"
    assert not group_alive(job.pgid)
    lines = list(LogLine.objects.filter(instance=instance, step_id="work").values_list("line", flat=True))
    assert any("sent SIGKILL" in line for line in lines)
    assert "Verified: no process of the job is still running." in lines
    assert detail(api, owner, org, instance)["live_jobs"] == 0
    # Nothing is left: another kill changes nothing.
    response = api(owner, org).post(f"/api/instances/{instance.pk}/cancel/", {"mode": "kill"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "canceled"


def test_force_cancel_of_a_job_that_honours_sigterm_reports_it_stopped(
    worker, make_workflow, run, localhost, owner, org, api
):
    instance = run(make_workflow([command("work", "echo ready; exec sleep 60")]), hosts=[localhost.pk])
    job = started(instance)

    instance_cancel(**controls(instance, owner), mode="force")
    instance = wait_for(instance, status="canceled", timeout=10)

    until(lambda: Job.objects.filter(pk=job.pk, verified_stopped_at__isnull=False).exists(), timeout=10,
          message="the job was not reported stopped")
    job.refresh_from_db()
    assert job.status == "canceled" and job.exit_code == 143  # ended by SIGTERM, no SIGKILL needed
    assert not group_alive(job.pgid)
    assert detail(api, owner, org, instance)["live_jobs"] == 0


def test_kill_cancel_ends_only_after_sigkill_with_nothing_left(worker, make_workflow, run, localhost, owner):
    instance = run(make_workflow([command("work", STUBBORN)]), hosts=[localhost.pk])
    job = started(instance)

    asked = time.monotonic()
    assert instance_cancel(**controls(instance, owner), mode="kill").status == "kill_canceling"
    time.sleep(2)
    instance.refresh_from_db()
    assert instance.status == "kill_canceling" and group_alive(job.pgid)  # SIGTERM alone did nothing
    instance = wait_for(instance, status="canceled", timeout=20)

    assert time.monotonic() - asked >= 5  # SIGKILL 5 s after SIGTERM, then verified
    job.refresh_from_db()
    assert job.verified_stopped_at is not None and job.status == "canceled"
    assert not group_alive(job.pgid)
    assert not Job.objects.filter(instance=instance, verified_stopped_at__isnull=True).exists()


def test_a_workflow_timeout_during_a_kill_cancel_does_not_leave_it_stuck(worker, make_workflow, run, localhost, owner):
    """Issue 12 item 4: kill_canceling -> timeout is not in the transition table, so the
    timeout firing while a kill waits for its job used to raise on every sweep and the
    instance never ended. The operator's cancel wins: it ends canceled once verified."""
    instance = run(make_workflow([command("work", STUBBORN)], default_timeout_seconds=3600), hosts=[localhost.pk])
    job = started(instance)
    instance_cancel(**controls(instance, owner), mode="kill")

    past = timezone.now() - timedelta(seconds=1)
    WorkflowInstance.objects.filter(pk=instance.pk).update(timeout_at=past)
    timer = Timer.objects.get(instance=instance, kind=TimerKind.WORKFLOW_TIMEOUT)
    Timer.objects.filter(pk=timer.pk).update(due_at=past)
    timer_fire(timer_id=timer.pk)  # what the sweeper does; it raised IllegalTransition here

    instance = wait_for(instance, status={"canceled", "timeout"}, timeout=20)
    assert instance.status == "canceled" and instance.error_class == ""
    job.refresh_from_db()
    assert job.verified_stopped_at is not None and not group_alive(job.pgid)
