"""A double click never errors or acts twice (DESIGN §6): a repeated control whose effect
already happened answers 2xx with the instance as it is now; only an action that is truly
impossible now is a 409. Service and API level, without a worker."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.engine.models import StepExecution, WorkflowInstance
from apps.engine.step_controls import step_retry
from apps.workflows.services import definition_create, definition_publish, definition_snapshot

pytestmark = pytest.mark.django_db

STEPS = [
    {"id": "first", "type": "command", "config": {"command": "true"}, "on_success": "second",
     "skippable": True, "hold_on_failure": True},
    {"id": "second", "type": "command", "config": {"command": "true"}},
]


@pytest.fixture
def make_run(org, owner):
    created = definition_create(organization=org, actor=owner, name="repeat", steps=STEPS)
    definition = definition_publish(definition_id=created.pk, organization=org, actor=owner)
    snapshot, version = definition_snapshot(definition)

    def make(status: str, *, steps: dict[str, str] | None = None, **fields) -> WorkflowInstance:
        instance = WorkflowInstance.objects.create(
            organization=org, definition=definition, workflow_name="repeat", version_number=version,
            snapshot=snapshot, status=status, triggered_by=owner, variables={}, **fields)
        for step_id, step_status in (steps or {}).items():
            StepExecution.objects.create(instance=instance, step_id=step_id, step_type="command",
                                         status=step_status, attempt=1)
        return instance

    return make


def post(api, user, instance, action, body=None):
    return api(user).post(f"/api/instances/{instance.pk}/{action}/", body or {}, format="json")


def actions(instance, action):
    return AuditEvent.objects.filter(target_id=str(instance.pk), action=action).count()


@pytest.mark.parametrize("status", ["pausing", "paused"])
def test_pause_of_a_pausing_or_paused_run_answers_its_state(api, operator, make_run, status):
    instance = make_run(status, steps={"first": "running"}, pause_reason="operator")

    response = post(api, operator, instance, "pause")

    assert (response.status_code, response.json()["status"]) == (200, status)
    assert actions(instance, "instance.pause") == 0  # nothing happened twice


def test_resume_twice_answers_running_both_times_and_acts_once(api, operator, make_run):
    instance = make_run("paused", steps={"first": "succeeded", "second": "pending"}, pause_reason="operator")

    first, second = post(api, operator, instance, "resume"), post(api, operator, instance, "resume")

    assert (first.status_code, first.json()["status"]) == (200, "running")
    assert (second.status_code, second.json()["status"]) == (200, "running")
    assert actions(instance, "instance.resume") == 1


@pytest.mark.parametrize("action", ["pause", "resume"])
def test_pause_and_resume_of_a_run_that_ended_meanwhile_is_a_409(api, operator, make_run, action):
    instance = make_run("succeeded", steps={"first": "succeeded", "second": "succeeded"})

    response = post(api, operator, instance, action)

    assert response.status_code == 409
    assert response.json()["code"] == "instance_terminal" and response.json()["detail"]


def test_terminate_and_cancel_twice_act_once(api, operator, make_run):
    running = make_run("running", steps={"first": "running"})
    assert post(api, operator, running, "terminate").json()["status"] == "terminated"
    again = post(api, operator, running, "terminate")
    assert (again.status_code, again.json()["status"]) == (200, "terminated")
    assert actions(running, "instance.terminate") == 1

    other = make_run("running", steps={"first": "running"})
    assert post(api, operator, other, "cancel").json()["status"] == "canceling"
    again = post(api, operator, other, "cancel")
    assert (again.status_code, again.json()["status"]) == (200, "canceling")
    assert actions(other, "instance.cancel.standard") == 1


def test_retry_and_skip_a_step_twice_act_once(api, operator, make_run):
    held = make_run("paused", steps={"first": "failed"}, pause_reason="step_failed")
    assert post(api, operator, held, "steps/first/retry").json()["status"] == "running"
    again = post(api, operator, held, "steps/first/retry")
    assert (again.status_code, again.json()["status"]) == (200, "running")
    assert actions(held, "step.retry") == 1

    other = make_run("paused", steps={"first": "failed"}, pause_reason="step_failed")
    assert post(api, operator, other, "steps/first/skip").status_code == 200
    again = post(api, operator, other, "steps/first/skip")
    assert (again.status_code, again.json()["status"]) == (200, "running")
    assert actions(other, "step.skip") == 1


def test_a_step_retry_repeated_after_the_step_ran_again_answers_2xx(api, operator, owner, make_run):
    held = make_run("paused", steps={"first": "failed"}, pause_reason="step_failed")
    step_retry(instance_id=held.pk, organization_id=held.organization_id, step_id="first", actor=owner)
    # The engine ran the step again and it succeeded before the second click arrived.
    StepExecution.objects.filter(instance=held, step_id="first").update(status="succeeded", attempt=2)

    again = post(api, operator, held, "steps/first/retry")

    assert (again.status_code, again.json()["status"]) == (200, "running")
    assert actions(held, "step.retry") == 1


def test_a_step_that_never_failed_is_still_refused(api, operator, make_run):
    instance = make_run("running", steps={"first": "succeeded", "second": "running"})

    response = post(api, operator, instance, "steps/first/retry")

    assert (response.status_code, response.json()["code"]) == (409, "step_not_failed")


def test_retry_instance_twice_acts_once(api, operator, make_run):
    instance = make_run("failed", steps={"first": "failed"}, error_class="NonZeroExit")

    first, second = post(api, operator, instance, "retry"), post(api, operator, instance, "retry")

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["status"] == "running"
    assert actions(instance, "instance.retry") == 1
