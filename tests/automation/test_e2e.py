"""The kill switch against a real worker: an instance running when the switch goes on
finishes its current step, then pauses at the step boundary (DESIGN §6)."""

from __future__ import annotations

import pytest

from apps.automation.services import kill_switch_engage
from apps.engine.models import WorkflowInstance
from apps.engine.step_controls import instance_retry
from apps.jobs.models import Job
from tests.engine.conftest import step_of, wait_for
from tests.engine.test_steps_e2e import command, step

pytestmark = [pytest.mark.worker, pytest.mark.xdist_group("worker")]


def _two_steps(make_workflow, name):
    return make_workflow([command("slow", "sleep 1; echo slow done", on_success="after"),
                          command("after", "echo after")], name=name)


@pytest.mark.parametrize("scope", ["organization", "workflow"])
def test_a_running_instance_pauses_at_the_next_step_boundary(worker, make_workflow, run, localhost, org, owner,
                                                             scope):
    definition = _two_steps(make_workflow, f"halt-{scope}")
    instance = run(definition, hosts=[localhost.pk])
    wait_for(instance, step="slow", step_status="running")

    kill_switch_engage(organization=org, actor=owner, reason="incident 42",
                       workflow=definition.pk if scope == "workflow" else None)

    instance = wait_for(instance, status={"paused", "succeeded", "failed"})
    assert (instance.status, instance.pause_reason, instance.status_message) == (
        "paused", "kill_switch", "Kill switch active")
    assert step_of(instance, "slow").status == "succeeded"  # the running step was allowed to finish
    assert Job.objects.get(instance=instance, step_id="slow").status == "succeeded"
    assert not instance.steps.filter(step_id="after").exclude(status="pending").exists()
    assert not Job.objects.filter(instance=instance, step_id="after").exists()  # never started


def test_a_switch_for_another_workflow_lets_the_run_finish(worker, make_workflow, run, localhost, org, owner):
    definition = _two_steps(make_workflow, "keeps-running")
    other = make_workflow([command("noop", "true")], name="halted-one")
    instance = run(definition, hosts=[localhost.pk])
    wait_for(instance, step="slow", step_status="running")

    kill_switch_engage(organization=org, actor=owner, reason="only the other one", workflow=other.pk)

    instance = wait_for(instance, status={"paused", "succeeded", "failed"})
    assert instance.status == "succeeded", (instance.pause_reason, instance.error_message)
    assert Job.objects.get(instance=instance, step_id="after").status == "succeeded"


# --- manual runs are not affected (DESIGN §6: "manual runs still start") -------------------
def test_a_manual_run_started_while_engaged_runs_to_the_end(worker, make_workflow, run, localhost, org, owner):
    definition = _two_steps(make_workflow, "manual-during-incident")
    kill_switch_engage(organization=org, actor=owner, reason="incident 42")

    instance = wait_for(run(definition, hosts=[localhost.pk]), status={"paused", "succeeded", "failed"})

    assert instance.status == "succeeded", (instance.pause_reason, instance.status_message)
    assert [j.step_id for j in Job.objects.filter(instance=instance).order_by("id")] == ["slow", "after"]


def test_an_api_run_and_its_children_run_while_engaged(worker, make_workflow, localhost, org, owner, api):
    make_workflow([command("child-one", "echo one", on_success="child-two"), command("child-two", "echo two")],
                  name="child-wf")
    parent = make_workflow([step("kids", "workflow", {"workflow": "child-wf"}, on_success="after"),
                            command("after", "echo after")], name="parent-wf")
    kill_switch_engage(organization=org, actor=owner, reason="incident 42")

    response = api(owner).post(f"/api/workflows/{parent.pk}/run/", {"hosts": [localhost.pk]}, format="json")
    assert response.status_code == 201, response.content
    instance = WorkflowInstance.objects.get(pk=response.json()["id"])
    assert instance.trigger == "api"

    instance = wait_for(instance, status={"paused", "succeeded", "failed"})
    assert instance.status == "succeeded", (instance.pause_reason, instance.status_message)
    child = WorkflowInstance.objects.get(parent=instance)
    assert (child.status, child.pause_reason) == ("succeeded", "")
    assert Job.objects.filter(instance=child).count() == 2


def test_a_manual_run_pauses_when_the_switch_is_engaged_again_after_it_started(
    worker, make_workflow, run, localhost, org, owner
):
    definition = _two_steps(make_workflow, "engaged-twice")
    kill_switch_engage(organization=org, actor=owner, reason="incident 42")
    instance = run(definition, hosts=[localhost.pk])
    wait_for(instance, step="slow", step_status="running")

    kill_switch_engage(organization=org, actor=owner, reason="this one too", workflow=definition.pk)

    instance = wait_for(instance, status={"paused", "succeeded", "failed"})
    assert (instance.status, instance.pause_reason) == ("paused", "kill_switch")
    assert not Job.objects.filter(instance=instance, step_id="after").exists()


def test_retrying_a_failed_run_while_engaged_runs_it(worker, make_workflow, run, localhost, org, owner, tmp_path):
    marker = tmp_path / "fixed"
    definition = make_workflow([command("check", f"test -f {marker}", on_success="after"),
                                command("after", "echo after")], name="retried-during-incident")
    instance = wait_for(run(definition, hosts=[localhost.pk]), status="failed")
    kill_switch_engage(organization=org, actor=owner, reason="incident 42")
    marker.touch()

    instance_retry(instance_id=instance.pk, organization_id=org.pk, actor=owner, reason="fixed")

    instance = wait_for(instance, status={"paused", "succeeded", "failed"})
    assert instance.status == "succeeded", (instance.pause_reason, instance.status_message)
