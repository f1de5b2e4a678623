"""Approve and reject through the API with the real worker moving the instance on."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail

from apps.approvals.models import ApprovalRequest
from apps.jobs.models import Job
from tests.engine.conftest import step_of, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.xdist_group("worker")]
DONE = {"succeeded", "failed", "rejected", "timeout", "canceled", "terminated"}


@pytest.fixture
def config_deploy(org, owner) -> Any:
    from apps.workflows.services import examples_load

    return next(d for d in examples_load(organization=org, actor=owner) if d.name == "config-deploy")


def _gate(instance: Any, step: str = "approve") -> ApprovalRequest:
    wait_for(instance, step=step, step_status="waiting")
    return ApprovalRequest.objects.get(step_execution__instance=instance, step_id=step)


def _step_mail() -> list[str]:
    """What the workflow's notification steps sent (the gate's own notice to its approvers
    is tested in test_notify.py)."""
    return [m.subject for m in mail.outbox if not m.subject.startswith("Approval needed: ")]


def test_config_deploy_approved_applies_and_verifies(worker, config_deploy, run, localhost, operator, org, api):
    instance = run(config_deploy, hosts=[localhost.pk])
    gate = _gate(instance)
    detail = api(operator, org).get(f"/api/approvals/{gate.pk}/").json()
    assert detail["plan"] == {"diff": "+ ntp server 10.0.0.1"} and detail["can_approve"] is True

    response = api(operator, org).post(f"/api/approvals/{gate.pk}/approve/", {"comment": "ok"}, format="json")

    assert response.status_code == 200, response.json()
    instance = wait_for(instance, status=DONE)
    assert instance.status == "succeeded", instance.error_message
    assert step_of(instance, "approve").status == "succeeded"
    assert step_of(instance, "approve").result["responses"] == [{"user": "operator", "approve": True,
                                                                 "comment": "ok"}]
    for step_id in ("apply", "verify"):
        assert Job.objects.filter(instance=instance, step_id=step_id, status="succeeded").count() == 1
    assert _step_mail() == ["CHG-0000 applied"]


def test_config_deploy_rejected_never_touches_the_device(worker, config_deploy, run, localhost, operator, org, api):
    instance = run(config_deploy, hosts=[localhost.pk])
    gate = _gate(instance)

    response = api(operator, org).post(f"/api/approvals/{gate.pk}/reject/", {"comment": "wrong server"},
                                       format="json")

    assert response.status_code == 200, response.json()
    instance = wait_for(instance, status=DONE)
    approve = step_of(instance, "approve")
    assert (approve.status, approve.error_class) == ("rejected", "Rejected")
    assert "wrong server" in approve.error_message
    assert step_of(instance, "notify_rejected").status == "succeeded"
    # on_failure routed the rejection to notify_rejected, which only notifies: still rejected
    assert (instance.status, instance.error_class) == ("rejected", "Rejected")
    assert "wrong server" in instance.error_message
    assert not Job.objects.filter(instance=instance, step_id__in=["apply", "verify"]).exists()
    # the routed branch ran instead; what the approval would have led to never runs
    downstream = dict(instance.steps.filter(step_id__in=["apply", "verify", "notify_done", "notify_failed"])
                      .values_list("step_id", "status"))
    assert downstream == dict.fromkeys(["apply", "verify", "notify_done", "notify_failed"], "unreachable")
    assert _step_mail() == ["CHG-0000 rejected"]
    late = api(operator, org).post(f"/api/approvals/{gate.pk}/approve/", {}, format="json")
    assert (late.status_code, late.json()["code"]) == (409, "approval_resolved")


def test_a_rejected_gate_without_on_failure_rejects_the_instance(worker, make_workflow, run, localhost, operator,
                                                                 org, api):
    definition = make_workflow([
        {"id": "gate", "type": "approval", "config": {"approvers": ["operator"]}, "on_success": "apply"},
        {"id": "apply", "type": "command", "config": {"command": "echo applied"}, "on_success": "after"},
        {"id": "after", "type": "command", "config": {"command": "echo after"}},
    ])
    instance = run(definition, hosts=[localhost.pk])
    gate = _gate(instance, "gate")

    api(operator, org).post(f"/api/approvals/{gate.pk}/reject/", {"comment": "no"}, format="json")

    instance = wait_for(instance, status=DONE)
    assert instance.status == "rejected"
    assert step_of(instance, "gate").status == "rejected"
    downstream = dict(instance.steps.exclude(step_id="gate").values_list("step_id", "status"))
    assert downstream == {"apply": "unreachable", "after": "unreachable"}
    assert not Job.objects.filter(instance=instance).exists()
