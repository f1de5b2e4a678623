"""The kill switch against a real worker: an instance running when the switch goes on
finishes its current step, then pauses at the step boundary (DESIGN §6)."""

from __future__ import annotations

import pytest

from apps.automation.services import kill_switch_engage
from apps.jobs.models import Job
from tests.engine.conftest import step_of, wait_for
from tests.engine.test_steps_e2e import command

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
