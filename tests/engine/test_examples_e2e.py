"""The bundled example workflows (apps/workflows/examples/) run as written on local hosts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from apps.approvals.models import ApprovalRequest
from apps.engine.models import PamSession, WorkflowInstance
from apps.jobs.models import Job, LogLine
from tests.engine.conftest import step_of, until, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.xdist_group("worker")]
DONE = {"succeeded", "failed", "rejected", "timeout", "canceled", "terminated"}


@pytest.fixture
def examples(org, owner) -> dict[str, Any]:
    from apps.credentials.services import credential_create
    from apps.workflows.services import examples_load

    credential_create(organization=org, actor=owner, name="db-admin", kind="password", username="dba",
                      secret="Rotate-Me-4f7a2c")
    return {definition.name: definition for definition in examples_load(organization=org, actor=owner)}


def test_health_check_runs_both_probes_in_parallel_and_judges(worker, examples, run, localhost):
    instance = wait_for(run(examples["health-check"], hosts=[localhost.pk]), status=DONE)

    assert instance.status == "succeeded", instance.error_message
    disk, load = step_of(instance, "disk").output, step_of(instance, "load").output
    assert 0 <= disk["used_pct"] <= 100 and load["load1"] >= 0
    unhealthy = disk["used_pct"] > 90 or load["load1"] > 8
    assert step_of(instance, "judge").next_step == ("page" if unhealthy else "ok")
    if not unhealthy:
        assert instance.variables["healthy"] is True


def test_patch_canary_patches_the_canary_first_then_the_fleet(worker, examples, run, fleet):
    instance = wait_for(run(examples["patch-canary"], hosts=[h.pk for h in fleet]), status=DONE)

    assert instance.status == "succeeded", instance.error_message
    apply = step_of(instance, "apply")
    assert apply.result["canary"] == {**apply.result["canary"], "hosts": 1, "state": "passed"}
    assert Job.objects.filter(instance=instance, step_id="apply").count() == 5
    assert instance.variables["result"] == "patched"
    assert LogLine.objects.filter(instance=instance, line="upgrading openssl on web-3 (10.0.0.3)").exists()


def test_rotate_password_leases_uses_and_returns_the_credential(worker, examples, run, localhost, hook_server):
    server, hook = hook_server
    url = f"http://127.0.0.1:{server.server_port}/slack"
    instance = wait_for(
        run(examples["rotate-service-password"], hosts=[localhost.pk], variables={"slack_webhook_url": url}),
        status=DONE,
    )

    assert instance.status == "succeeded", instance.error_message
    lines = list(LogLine.objects.filter(instance=instance).values_list("line", flat=True))
    assert "rotating billing as dba" in lines and "using password ***" in lines
    assert "Rotate-Me-4f7a2c" not in json.dumps(lines)
    assert PamSession.objects.get(instance=instance).close_reason == "checkin"
    assert json.loads(hook.received[0][1]) == {"text": "billing password rotated"}


def test_config_deploy_renders_then_waits_for_approval_with_the_plan(worker, examples, run, localhost):
    instance = wait_for(run(examples["config-deploy"], hosts=[localhost.pk]), step="approve", step_status="waiting")

    assert (instance.status, instance.pause_reason) == ("running", "awaiting_approval")
    assert step_of(instance, "render").output == {"diff": "+ ntp server 10.0.0.1"}
    request = ApprovalRequest.objects.get(step_execution__instance=instance)
    assert request.message == "Apply CHG-0000?"
    assert not Job.objects.filter(instance=instance, step_id="apply").exists()


def test_multi_deploy_starts_one_child_per_batch_each_with_its_own_gate(worker, examples, run, fleet):
    instance = run(examples["multi-deploy"], hosts=[h.pk for h in fleet[:3]], variables={"change_ticket": "CHG-7"})
    wait_for(instance, step="batches", step_status="running")

    def gates() -> int:
        return ApprovalRequest.objects.filter(step_execution__instance__parent=instance, status="pending").count()

    until(lambda: gates() == 2, timeout=30, message="each child should wait at its own approval")
    children = WorkflowInstance.objects.filter(parent=instance).order_by("batch_index")
    assert [len(child.targets) for child in children] == [2, 1]
    assert {child.variables["change_ticket"] for child in children} == {"CHG-7"}
