"""The control endpoints of /api/instances/ without a worker: refusals, permissions,
tenancy, harmless repeats, re-run plans and history (DESIGN §6)."""

from __future__ import annotations

import pytest

from apps.approvals.models import ApprovalRequest
from apps.approvals.services import approval_respond
from apps.engine.models import StepExecution, WorkflowInstance
from apps.jobs.models import Job
from apps.workflows.services import definition_create, definition_publish

pytestmark = pytest.mark.django_db

STEPS = [
    {"id": "plan", "type": "command", "config": {"command": "echo plan"}, "on_success": "fork"},
    {"id": "fork", "type": "parallel", "config": {"branches": ["left", "right"]}, "on_success": "apply"},
    {"id": "left", "type": "command", "config": {"command": "echo left"}},
    {"id": "right", "type": "command", "config": {"command": "echo right"}, "skippable": True},
    {"id": "apply", "type": "command", "config": {"command": "echo apply"}, "on_success": "report"},
    {"id": "report", "type": "set", "config": {"variables": {"done": True}}},
]


@pytest.fixture
def definition(org, owner):
    created = definition_create(organization=org, actor=owner, name="deploy", steps=STEPS)
    return definition_publish(definition_id=created.pk, organization=org, actor=owner)


@pytest.fixture
def finished(org, owner, definition):
    """A failed run: plan ok, left ok, right failed on web-2 only, fork failed, the rest unreachable."""
    from apps.workflows.services import definition_snapshot

    snapshot, version = definition_snapshot(definition)
    targets = [{"id": i, "hostname": f"web-{i}", "connection": "local"} for i in (1, 2, 3)]
    instance = WorkflowInstance.objects.create(
        organization=org, definition=definition, workflow_name="deploy", version_number=version, snapshot=snapshot,
        status="failed", targets=targets, triggered_by=owner, variables={},
    )

    def row(step_id, status, **fields):
        spec = next(s for s in STEPS if s["id"] == step_id)
        return StepExecution.objects.create(instance=instance, step_id=step_id, step_type=spec["type"], status=status,
                                            attempt=1, **fields)

    plan = row("plan", "succeeded", output={"changes": 3})
    row("fork", "failed", error_class="BranchFailed")
    left = row("left", "succeeded", parallel_id="fork", branch="left")
    right = row("right", "failed", parallel_id="fork", branch="right", error_class="NonZeroExit")
    row("apply", "unreachable")
    row("report", "unreachable")
    for step in (plan, left, right):
        for target in targets:
            failed = step is right and target["hostname"] == "web-2"
            Job.objects.create(instance=instance, step_execution=step, step_id=step.step_id,
                               hostname=target["hostname"], status="failed" if failed else "succeeded",
                               exit_code=1 if failed else 0)
    return instance


def url(instance, action):
    return f"/api/instances/{instance.pk}/{action}/"


def test_pause_and_resume_refuse_with_a_code_that_says_why(api, operator, finished):
    client = api(operator)

    for action in ("pause", "resume", "terminate"):
        response = client.post(url(finished, action), {"reason": "x"}, format="json")
        assert response.status_code == 409, action
        assert response.json()["code"] == "instance_terminal"
    response = client.post(url(finished, "steps/right/skip"), {}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "instance_terminal")


def test_controls_need_execute_and_stay_in_the_organization(api, viewer, other_org, make_member, finished):
    assert api(viewer).post(url(finished, "pause"), {}, format="json").status_code == 403
    assert api(viewer).get(url(finished, "history")).status_code == 200
    stranger = make_member(other_org, role="owner")
    for action in ("pause", "resume", "cancel", "terminate", "retry", "rerun", "steps/right/retry"):
        assert api(stranger, other_org).post(url(finished, action), {}, format="json").status_code == 404, action
    assert api(stranger, other_org).get(url(finished, "history")).status_code == 404


def test_bad_input_is_a_400_never_a_500(api, operator, finished):
    client = api(operator)
    assert client.post(url(finished, "cancel"), {"mode": "gentle"}, format="json").status_code == 400
    assert client.post(url(finished, "pause"), {"reason": ["x"]}, format="json").status_code == 400
    assert client.post(url(finished, "pause"), {"bogus": 1}, format="json").status_code == 400
    assert client.post(url(finished, "rerun"), {"tasks": "left"}, format="json").status_code == 400
    assert client.post(url(finished, "rerun"), {"tasks": [{"id": 1}]}, format="json").status_code == 400
    assert client.post(url(finished, "steps/nope/retry"), {}, format="json").status_code == 404


def test_retry_instance_over_the_api_puts_the_failed_steps_back(api, operator, finished):
    response = api(operator).post(url(finished, "retry"), {"reason": "fixed"}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "running"
    steps = {s["step_id"]: s["status"] for s in body["steps"]}
    assert steps["right"] == "pending"  # the failed leaf runs again
    assert steps["fork"] == "running"  # its parallel step waits for it again
    assert steps["left"] == "succeeded"  # kept
    assert steps["apply"] == "unreachable"  # until the routing reaches it


def test_rerun_dry_run_returns_the_plan_and_creates_nothing(api, operator, finished):
    before = WorkflowInstance.objects.count()

    response = api(operator).post(url(finished, "rerun"),
                                  {"tasks": ["right", "right"], "no_reset": True, "dry_run": True},
                                  format="json")

    assert response.status_code == 200, response.content
    plan = response.json()["plan"]
    assert WorkflowInstance.objects.count() == before
    assert plan["tasks"] == ["right"]  # duplicates count once
    actions = {s["step"]: s for s in plan["steps"]}
    assert actions["right"]["action"] == "start"
    assert actions["right"]["hosts"] == {"count": 1, "hostnames": ["web-2"]}
    assert actions["fork"]["action"] == "rejoin"
    assert actions["apply"]["action"] == "run_if_reached"
    assert actions["report"]["action"] == "run_if_reached"
    assert actions["left"]["action"] == "reuse" and actions["left"]["status"] == "succeeded"
    assert actions["plan"]["action"] == "reuse" and actions["plan"]["output"] == {"changes": 3}


def test_rerun_no_reset_is_per_task(api, operator, finished):
    response = api(operator).post(url(finished, "rerun"),
                                  {"tasks": ["left", "right"], "no_reset": ["right"], "dry_run": True},
                                  format="json")

    assert response.status_code == 200, response.content
    hosts = {s["step"]: s["hosts"] for s in response.json()["plan"]["steps"] if s["action"] == "start"}
    assert hosts["left"]["count"] == 3  # reset: every host runs again
    assert hosts["right"] == {"count": 1, "hostnames": ["web-2"]}  # only the host that failed

    response = api(operator).post(url(finished, "rerun"), {"tasks": ["left", "right"], "no_reset": ["right"]},
                                  format="json")
    assert response.status_code == 201, response.content
    rows = {s.step_id: s for s in WorkflowInstance.objects.get(pk=response.json()["instance"]["id"]).steps.all()}
    assert "only_hosts" not in rows["left"].result
    assert rows["right"].result["only_hosts"] == ["web-2"]


@pytest.mark.parametrize("no_reset, hosts", [(True, {"left": 0, "right": 1}), (False, {"left": 3, "right": 3}),
                                             ("true", {"left": 0, "right": 1})])
def test_rerun_no_reset_true_means_every_task_and_false_none(api, operator, finished, no_reset, hosts):
    response = api(operator).post(url(finished, "rerun"),
                                  {"tasks": ["left", "right"], "no_reset": no_reset, "dry_run": True}, format="json")

    assert response.status_code == 200, response.content
    plan = response.json()["plan"]["steps"]
    assert {s["step"]: s["hosts"]["count"] for s in plan if s["action"] == "start"} == hosts


@pytest.mark.parametrize("no_reset, message", [
    (["right", "apply"], "apply"),
    (["plan"], "plan"),
    ("sometimes", "true, false or a list of task ids"),
    ([1], "true, false or a list of task ids"),
    ({"right": True}, "true, false or a list of task ids"),
])
def test_rerun_refuses_a_no_reset_that_is_not_one_of_the_tasks(api, operator, finished, no_reset, message):
    before = WorkflowInstance.objects.count()

    response = api(operator).post(url(finished, "rerun"), {"tasks": ["right"], "no_reset": no_reset},
                                  format="json")

    assert response.status_code == 400, response.content
    assert message in str(response.json())
    assert WorkflowInstance.objects.count() == before


def test_the_schema_says_no_reset_is_a_boolean_or_task_ids(api, operator):
    schema = api(operator).get("/api/schema/", {"format": "json"}).json()
    field = schema["components"]["schemas"]["RerunInputRequest"]["properties"]["no_reset"]
    assert [option["type"] for option in field["oneOf"]] == ["boolean", "array"]
    assert field["oneOf"][1]["items"]["type"] == "string"


def test_rerun_ignores_a_task_downstream_of_another(api, operator, finished):
    response = api(operator).post(url(finished, "rerun"), {"tasks": ["left", "plan"], "dry_run": True},
                                  format="json")

    plan = response.json()["plan"]
    assert plan["tasks"] == ["plan"]
    assert plan["ignored_tasks"] == [{"task": "left", "reason": "downstream of requested task 'plan'"}]
    assert {s["action"] for s in plan["steps"]} == {"start", "run_if_reached"}  # nothing reused before plan
    hosts = next(s for s in plan["steps"] if s["step"] == "right")["hosts"]
    assert hosts["count"] == 3  # without no_reset every host runs


def test_rerun_creates_a_linked_instance_laid_out_from_the_plan(api, operator, finished):
    response = api(operator).post(url(finished, "rerun"), {"tasks": ["right"], "no_reset": True}, format="json")

    assert response.status_code == 201, response.content
    rerun = WorkflowInstance.objects.get(pk=response.json()["instance"]["id"])
    assert (rerun.rerun_of_id, rerun.trigger, rerun.snapshot) == (finished.pk, "rerun", finished.snapshot)
    rows = {s.step_id: s for s in rerun.steps.all()}
    assert rows["plan"].reused_from_id == finished.steps.get(step_id="plan").pk
    assert rows["plan"].output == {"changes": 3}
    assert rows["right"].status == "pending" and rows["right"].result["only_hosts"] == ["web-2"]
    assert rows["fork"].status == "running" and rows["fork"].reused_from_id is None
    assert "apply" not in rows


def test_rerun_refuses_tasks_that_never_ran_and_running_instances(api, operator, finished):
    client = api(operator)
    response = client.post(url(finished, "rerun"), {"tasks": ["apply"]}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "task_not_executed")
    response = client.post(url(finished, "rerun"), {"tasks": ["nope"]}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "unknown_task")

    WorkflowInstance.objects.filter(pk=finished.pk).update(status="running")
    response = client.post(url(finished, "rerun"), {}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "instance_not_terminal")


def test_history_lists_controls_and_approval_responses_with_actor_and_reason(api, operator, owner, org, definition):
    instance = WorkflowInstance.objects.create(organization=org, definition=definition, workflow_name="deploy",
                                               snapshot={"steps": []}, status="running", triggered_by=owner)
    gate = StepExecution.objects.create(instance=instance, step_id="gate", step_type="approval", status="waiting",
                                        attempt=1, wait_reason="awaiting_approval")
    approval = ApprovalRequest.objects.create(organization=org, instance=instance, step_execution=gate,
                                              step_id="gate", message="Go?", requested_by=owner)
    client = api(operator)
    assert client.post(url(instance, "pause"), {"reason": "lunch"}, format="json").json()["status"] == "paused"
    assert client.post(url(instance, "pause"), {"reason": "again"}, format="json").status_code == 200
    assert client.post(url(instance, "resume"), {"reason": "back"}, format="json").json()["status"] == "running"
    approval_respond(approval_id=approval.pk, organization=org, actor=operator, approve=False, comment="not today")

    response = client.get(url(instance, "history"))

    assert response.status_code == 200
    events = [(e["action"], e["actor"], e["reason"], e["comment"]) for e in response.json()]
    assert events == [
        ("instance.pause", operator.username, "lunch", ""),
        ("instance.resume", operator.username, "back", ""),
        ("approval.respond", operator.username, "", "not today"),
    ]
