"""Every instance status has a way out (issue 12 item 4).

Table-driven over the transition table: from every non-terminal status, each ending
(workflow timeout, terminate, cancel in each mode, a failing job) is either reached or
refused with a 409 (`TransitionNotAllowed` and its code), never an exception from the
transition table. The instance is driven the way production drives it: the sweeper's
timer firing (`timer_fire`), `advance`, the control services, and the jobs services a
worker reports through (claim, finish). No Celery worker: each test reads the rows
after every step, so the table stays quick and exact.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.core.errors import TransitionNotAllowed
from apps.engine.advance import advance
from apps.engine.controls import instance_cancel, instance_pause, instance_terminate
from apps.engine.models import TimerKind, WorkflowInstance
from apps.engine.states import INSTANCE_TERMINAL, INSTANCE_TRANSITIONS, InstanceStatus
from apps.engine.timers import due_timer_ids, timer_fire
from apps.jobs.executors.base import JobResult
from apps.jobs.models import Job, JobStatus
from apps.jobs.services import job_claim, job_finish
from tests.engine.test_steps_e2e import command

I = InstanceStatus  # noqa: E741

NON_TERMINAL = [status for status in I if status not in INSTANCE_TERMINAL]


# --- driving an instance -------------------------------------------------------------------
def controls(instance: WorkflowInstance, owner: Any) -> dict[str, Any]:
    return {"instance_id": instance.pk, "organization_id": instance.organization_id, "actor": owner}


def fire_due_timers() -> None:
    """What the beat sweeper does with due timer rows (it must never raise)."""
    for timer_id in due_timer_ids():
        timer_fire(timer_id=timer_id)


def work_jobs(instance: WorkflowInstance, outcome: str | None) -> None:
    """A jobs worker: claims queued jobs and ends running ones, a stopped job as canceled
    (it honoured the stop request), any other with `outcome` (None: it runs on)."""
    for step_execution_id in set(
        Job.objects.filter(instance=instance, status=JobStatus.QUEUED).values_list("step_execution_id", flat=True)
    ):
        while job_claim(step_execution_id=step_execution_id, worker="test") is not None:
            pass
    for job in Job.objects.filter(instance=instance, status=JobStatus.RUNNING):
        if job.stop_request:
            result = JobResult(status=JobStatus.CANCELED, exit_code=143,
                               error_message=f"Stopped on request ({job.stop_request}).")
        elif outcome is None:
            continue
        elif outcome == JobStatus.FAILED:
            result = JobResult(status=JobStatus.FAILED, exit_code=3, error_class="NonZeroExit",
                               error_message="The process exited with code 3.")
        else:
            result = JobResult(status=JobStatus.SUCCEEDED, exit_code=0)
        job_finish(job_id=job.pk, result=result)


def drive(instance: WorkflowInstance, *, outcome: str = JobStatus.SUCCEEDED, passes: int = 6) -> WorkflowInstance:
    """Sweeper, engine and worker take turns until the instance ends (or `passes` run out)."""
    for _ in range(passes):
        fire_due_timers()
        advance(instance.pk)
        instance.refresh_from_db()
        if instance.status in INSTANCE_TERMINAL:
            return instance
        work_jobs(instance, outcome)
    instance.refresh_from_db()
    return instance


def job_is_running(instance: WorkflowInstance) -> None:
    advance(instance.pk)
    work_jobs(instance, outcome=None)  # claimed: running, not ended
    assert Job.objects.filter(instance=instance, status=JobStatus.RUNNING).count() == 1


# --- an instance in each status ---------------------------------------------------------------
@pytest.fixture
def definition(make_workflow):
    return make_workflow([command("work", "sleep 30", on_success="after"), command("after", "echo done")],
                         default_timeout_seconds=3600)


@pytest.fixture
def instance_in(definition, run, localhost, owner):
    def make(status: str) -> WorkflowInstance:
        if status == I.SCHEDULED:
            instance = run(definition, hosts=[localhost.pk], scheduled_for=timezone.now() + timedelta(hours=1))
        else:
            instance = run(definition, hosts=[localhost.pk])
        if status in (I.SCHEDULED, I.PENDING):
            assert instance.status == status
            return instance
        job_is_running(instance)
        if status in (I.PAUSING, I.PAUSED):
            instance_pause(**controls(instance, owner))
        if status == I.PAUSED:
            work_jobs(instance, outcome=JobStatus.SUCCEEDED)  # the running job finishes, then it pauses
            advance(instance.pk)
        if status in (I.CANCELING, I.FORCE_CANCELING, I.KILL_CANCELING):
            mode = {I.CANCELING: "standard", I.FORCE_CANCELING: "force", I.KILL_CANCELING: "kill"}[status]
            instance_cancel(**controls(instance, owner), mode=mode)
        instance.refresh_from_db()
        assert instance.status == status, instance.status
        return instance

    return make


def test_the_table_covers_every_status():
    assert set(INSTANCE_TRANSITIONS) == set(I)
    for status in NON_TERMINAL:
        assert INSTANCE_TRANSITIONS[status] & INSTANCE_TERMINAL, f"{status} has no ending at all"


# --- the endings ----------------------------------------------------------------------------
def timeout(instance: WorkflowInstance, owner: Any) -> WorkflowInstance:
    """The workflow timeout passes (and a scheduled run's start time with it)."""
    past = timezone.now() - timedelta(seconds=1)
    WorkflowInstance.objects.filter(pk=instance.pk).update(timeout_at=past)
    instance.timers.filter(kind__in=[TimerKind.WORKFLOW_TIMEOUT, TimerKind.START]).update(due_at=past)
    return drive(instance)


def terminate(instance: WorkflowInstance, owner: Any) -> WorkflowInstance:
    instance_terminate(**controls(instance, owner), reason="table")
    return drive(instance)


def cancel(mode: str):
    def ending(instance: WorkflowInstance, owner: Any) -> WorkflowInstance:
        instance_cancel(**controls(instance, owner), mode=mode)
        return drive(instance)

    ending.__name__ = f"cancel_{mode}"
    return ending


def failure(instance: WorkflowInstance, owner: Any) -> WorkflowInstance:
    """The run's job fails (no on_failure): a scheduled run is started for it first."""
    instance.timers.filter(kind=TimerKind.START).update(due_at=timezone.now() - timedelta(seconds=1))
    return drive(instance, outcome=JobStatus.FAILED)


# (status, ending) -> the status it ends in, or the code of the 409 that refuses it.
# A paused run runs nothing, so nothing of it can fail: it stays paused (no error) until
# resumed or canceled. A cancel the operator asked for wins over a failure or a timeout
# that comes while it is being carried out (force and kill); a standard cancel lets the
# running job go on, which the workflow timeout still bounds.
NOT_TERMINABLE = "409:not_terminable"
EXPECTED: dict[str, dict[str, str]] = {
    I.SCHEDULED: {"timeout": I.TIMEOUT, "terminate": NOT_TERMINABLE, "failure": I.FAILED},
    I.PENDING: {"timeout": I.TIMEOUT, "terminate": NOT_TERMINABLE, "failure": I.FAILED},
    I.RUNNING: {"timeout": I.TIMEOUT, "terminate": I.TERMINATED, "failure": I.FAILED},
    I.PAUSING: {"timeout": I.TIMEOUT, "terminate": I.TERMINATED, "failure": I.FAILED},
    I.PAUSED: {"timeout": I.TIMEOUT, "terminate": I.TERMINATED, "failure": I.PAUSED},
    I.CANCELING: {"timeout": I.TIMEOUT, "terminate": NOT_TERMINABLE, "failure": I.CANCELED},
    I.FORCE_CANCELING: {"timeout": I.CANCELED, "terminate": NOT_TERMINABLE, "failure": I.CANCELED},
    I.KILL_CANCELING: {"timeout": I.CANCELED, "terminate": NOT_TERMINABLE, "failure": I.CANCELED},
}
for _row in EXPECTED.values():
    _row.update({"cancel_standard": I.CANCELED, "cancel_force": I.CANCELED, "cancel_kill": I.CANCELED})
ENDINGS = [timeout, terminate, cancel("standard"), cancel("force"), cancel("kill"), failure]


def test_the_expectations_cover_every_non_terminal_status_and_ending():
    assert set(EXPECTED) == set(NON_TERMINAL)
    assert all(set(row) == {ending.__name__ for ending in ENDINGS} for row in EXPECTED.values())


@pytest.mark.parametrize("ending", ENDINGS, ids=lambda ending: ending.__name__)
@pytest.mark.parametrize("status", NON_TERMINAL)
def test_every_status_reaches_each_ending_or_refuses_it_with_a_409(instance_in, owner, status, ending):
    instance = instance_in(status)
    expected = EXPECTED[status][ending.__name__]

    try:
        instance = ending(instance, owner)
    except TransitionNotAllowed as refusal:
        assert refusal.status_code == 409
        assert f"409:{refusal.code}" == expected, refusal.message
        instance.refresh_from_db()
        assert instance.status == status  # a refusal changes nothing
        return

    assert instance.status == expected, (instance.status, instance.error_message)
    if expected in INSTANCE_TERMINAL:
        assert instance.finished_at is not None
        assert not instance.timers.filter(fired_at__isnull=True).exists()  # nothing left to fire
