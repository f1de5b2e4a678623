"""A rejection routed by `on_failure` (issue 12 item 6): what the gate would have led to is
`unreachable`, the routed branch runs, and the instance ends `rejected` unless the gate
says its on_failure branch recovers (`on_reject: "recover"`). Real worker, real Postgres."""

from __future__ import annotations

from typing import Any

import pytest

from apps.approvals.models import ApprovalRequest
from apps.jobs.models import Job
from apps.workflows.validation import validate_definition
from tests.engine.conftest import step_of, wait_for

DONE = {"succeeded", "failed", "rejected", "timeout", "canceled", "terminated"}


def _steps(*, on_reject: str | None = None, gate: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    config: dict[str, Any] = {"approvers": ["operator"], "message": "Apply?", **(gate or {})}
    if on_reject:
        config["on_reject"] = on_reject
    return [
        {"id": "gate", "type": "approval", "config": config, "on_success": "apply", "on_failure": "tidy"},
        {"id": "apply", "type": "command", "config": {"command": "echo applied"}, "on_success": "verify",
         "on_failure": "report"},
        {"id": "verify", "type": "command", "config": {"command": "echo verified"}, "on_success": "report"},
        {"id": "tidy", "type": "command", "config": {"command": "echo tidied"}, "on_success": "report"},
        {"id": "report", "type": "command", "config": {"command": "echo report"}},
    ]


def _reject(instance: Any, api: Any, operator: Any, org: Any, comment: str) -> None:
    wait_for(instance, step="gate", step_status="waiting")
    gate = ApprovalRequest.objects.get(step_execution__instance=instance, step_id="gate")
    response = api(operator, org).post(f"/api/approvals/{gate.pk}/reject/", {"comment": comment}, format="json")
    assert response.status_code == 200, response.json()


def _statuses(instance: Any) -> dict[str, str]:
    return dict(instance.steps.values_list("step_id", "status"))


@pytest.mark.worker
@pytest.mark.xdist_group("worker")
def test_a_rejection_routed_to_cleanup_runs_it_and_still_rejects_the_run(worker, make_workflow, run, localhost,
                                                                          operator, org, api):
    instance = run(make_workflow(_steps()), hosts=[localhost.pk])

    _reject(instance, api, operator, org, "the diff touches prod")

    instance = wait_for(instance, status=DONE)
    assert (instance.status, instance.error_class) == ("rejected", "Rejected")
    assert "the diff touches prod" in instance.error_message and "'gate'" in instance.error_message
    # the cleanup branch ran to its end (report follows tidy), the approved path never started
    assert _statuses(instance) == {"gate": "rejected", "tidy": "succeeded", "report": "succeeded",
                                   "apply": "unreachable", "verify": "unreachable"}
    assert set(Job.objects.filter(instance=instance).values_list("step_id", flat=True)) == {"tidy", "report"}


@pytest.mark.worker
@pytest.mark.xdist_group("worker")
def test_a_rejection_routed_to_a_recovery_branch_may_succeed(worker, make_workflow, run, localhost, operator,
                                                             org, api):
    instance = run(make_workflow(_steps(on_reject="recover")), hosts=[localhost.pk])

    _reject(instance, api, operator, org, "use the fallback")

    instance = wait_for(instance, status=DONE)
    assert instance.status == "succeeded", instance.error_message
    assert _statuses(instance) == {"gate": "rejected", "tidy": "succeeded", "report": "succeeded",
                                   "apply": "unreachable", "verify": "unreachable"}
    assert "use the fallback" in step_of(instance, "gate").error_message


@pytest.mark.worker
@pytest.mark.xdist_group("worker")
def test_a_timed_out_gate_rejecting_through_on_failure_rejects_the_run(worker, make_workflow, run, localhost):
    steps = _steps(gate={"timeout_seconds": 1, "on_timeout": "reject"})
    instance = run(make_workflow(steps), hosts=[localhost.pk])

    instance = wait_for(instance, status=DONE)

    assert (instance.status, instance.error_class) == ("rejected", "Rejected")
    assert "No decision within 1 seconds" in instance.error_message
    assert _statuses(instance)["apply"] == "unreachable" and _statuses(instance)["tidy"] == "succeeded"


@pytest.mark.django_db
def test_recover_needs_an_on_failure_branch_and_a_known_value():
    def errors(config: dict[str, Any], **edges: Any) -> list[tuple[str, str]]:
        steps = [{"id": "gate", "type": "approval", "config": config, **edges},
                 {"id": "fix", "type": "command", "config": {"command": "echo"}}]
        result = validate_definition({"name": "w", "steps": steps}, organization_id=None)
        return [(issue.path, issue.code) for issue in result.errors]

    assert errors({"on_reject": "recover"}, on_success="fix") == [("steps[0].config.on_reject", "missing_key")]
    assert errors({"on_reject": "retry"}, on_failure="fix") == [("steps[0].config.on_reject", "invalid_choice")]
    assert errors({"on_reject": "recover"}, on_failure="fix") == []
    assert errors({"on_reject": "reject"}, on_failure="fix") == []
