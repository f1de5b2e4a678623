"""POST /api/workflows/{id}/simulate/: per-step predictions for real hosts and variables,
with no side effects."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group
from django.core import mail

from apps.approvals.models import ApprovalRequest
from apps.engine.models import PamSession, StepExecution, WorkflowInstance
from apps.jobs.models import Job
from apps.workflows.models import WorkflowVersion
from apps.workflows.services import definition_create, examples_load
from tests.credentials.factories import CredentialFactory
from tests.factories import UserFactory
from tests.inventory.factories import HostFactory, HostGroupFactory
from tests.workflows.conftest import basic

pytestmark = pytest.mark.django_db


@pytest.fixture
def examples(org):
    CredentialFactory(organization=org, name="db-admin", username="dba", secret="pa55-never-shown")
    return {definition.name: definition for definition in examples_load(organization=org)}


@pytest.fixture
def hosts(org):
    return [HostFactory(organization=org, hostname=f"web-{i:02d}", primary_ip=f"10.0.0.{i + 1}") for i in range(12)]


@pytest.fixture
def client(api, operator, org):
    return api(operator, org)


def simulate(client, definition, **body):
    response = client.post(f"/api/workflows/{definition.pk}/simulate/", body, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def by_id(report):
    return {prediction["id"]: prediction for prediction in report["steps"]}


def test_config_deploy_predicts_jobs_approval_and_notification(client, examples, hosts):
    report = simulate(client, examples["config-deploy"], hosts=[h.pk for h in hosts[:3]],
                      variables={"change_ticket": "CHG-42"})

    assert [p["id"] for p in report["steps"]] == ["render", "approve", "apply", "verify", "notify_done"]
    assert report["not_reached"] == ["notify_rejected", "notify_failed", "cleanup"]
    steps = by_id(report)
    assert steps["render"]["hosts"] == ["web-00", "web-01", "web-02"] and steps["render"]["job_count"] == 3
    assert steps["render"]["canary"] is None
    assert steps["render"]["preview"]["text"].startswith("echo rendering for web-00 && ")
    assert steps["approve"]["would_pause_for_approval"] is True
    assert steps["approve"]["message"] == "Apply CHG-42?" and steps["approve"]["anyone_with_execute"] is True
    assert steps["notify_done"]["would_notify"] == {
        "channel": "email", "recipients": ["ops@example.com"], "subject": "CHG-42 applied",
        "body": "All hosts verified.", "signed": False}
    assert report["summary"] | {"would_fail": [], "undetermined": []} == {
        "steps": 5, "jobs": 9, "approvals": 1, "pam_checkouts": 0, "notifications": 1, "child_instances": 0,
        "would_fail": [], "undetermined": []}


def test_canary_split_and_runtime_dependent_conditional(client, examples, hosts):
    report = simulate(client, examples["patch-canary"], hosts=[h.hostname for h in hosts])

    apply = by_id(report)["apply"]
    assert apply["canary"] == {"hosts": ["web-00", "web-01"], "count": 2, "rest": 10, "success_threshold": 80}
    assert apply["max_parallel"] == 5 and apply["first_dispatch"] == 2 and apply["job_count"] == 12
    decide = by_id(report)["decide"]
    assert decide["branch"] is None and "steps.health" not in decide["undetermined"]
    assert "health" in decide["undetermined"] and decide["candidates"] == ["done", "alert"]
    assert {"done", "alert"} <= set(by_id(report)) and report["summary"]["undetermined"] == ["decide"]

    single = simulate(client, examples["patch-canary"], hosts=[hosts[0].pk])
    assert by_id(single)["apply"]["canary"] is None  # no canary below two hosts


def test_conditional_takes_the_branch_the_variables_choose(org, client):
    definition = definition_create(organization=org, actor=None, **basic(
        name="route", variables=[{"name": "env", "default": "dev"}], steps=[
            {"id": "pick", "type": "conditional",
             "config": {"branches": [{"when": "vars.env == 'prod'", "next": "careful"}], "default": "fast"}},
            {"id": "careful", "type": "delay", "config": {"seconds": 600}},
            {"id": "fast", "type": "set", "config": {"variables": {"speed": "{{ vars.env }}-fast"}},
             "on_success": "wait"},
            {"id": "wait", "type": "delay", "config": {"until": "2030-01-01T00:00:00Z"}},
        ]))

    prod = simulate(client, definition, variables={"env": "prod"})
    dev = simulate(client, definition)

    assert by_id(prod)["pick"]["branch"] == 0 and [p["id"] for p in prod["steps"]] == ["pick", "careful"]
    assert by_id(prod)["careful"]["would_delay"] == {"seconds": 600}
    assert by_id(dev)["pick"]["branch"] == "default" and [p["id"] for p in dev["steps"]] == ["pick", "fast", "wait"]
    assert by_id(dev)["fast"]["would_set"] == {"speed": "dev-fast"}
    assert by_id(dev)["wait"]["would_delay"] == {"until": "2030-01-01T00:00:00Z"}


def test_condition_error_is_reported_on_the_step(org, client):
    definition = definition_create(organization=org, actor=None, **basic(
        name="broken", variables=[{"name": "size", "default": "big"}], steps=[
            {"id": "pick", "type": "conditional", "config": {"branches": [{"when": "vars.size > 3", "next": "x"}]},
             "on_failure": "x"},
            {"id": "x", "type": "set", "config": {"variables": {"a": 1}}},
        ]))

    pick = by_id(simulate(client, definition))["pick"]

    assert pick["would_fail"].startswith("TemplateError in branches[0].when: TypeError")
    assert pick["next"] == ["x"]


def test_approvers_are_resolved_with_group_members_of_the_organization(org, client, make_member, other_org):
    bob = make_member(org, username="bob")
    carol = make_member(other_org, username="carol")
    make_member(org, username="alice")
    Group.objects.create(name="ops").user_set.add(bob, carol, UserFactory(username="dave"))
    definition = definition_create(organization=org, actor=None, **basic(name="gate", steps=[
        {"id": "gate", "type": "approval",
         "config": {"approvers": ["alice", "group:ops", "group:nobody", "ghost"], "required_approvals": 2}}]))

    gate = by_id(simulate(client, definition))["gate"]

    assert gate["approvers"] == ["alice", "bob", "group:nobody", "ghost"]
    assert gate["unknown_approvers"] == ["ghost"] and gate["required_approvals"] == 2


def test_pam_predicts_the_credential_but_never_its_secret(client, examples, hosts):
    response = client.post(f"/api/workflows/{examples['rotate-service-password'].pk}/simulate/",
                           {"hosts": [hosts[0].pk]}, format="json")

    assert "pa55-never-shown" not in response.content.decode()
    steps = by_id(response.json())
    assert steps["lease"]["would_check_out"] == {"alias": "db", "ttl_seconds": 600, "credential": "db-admin",
                                                 "kind": "password"}
    assert "as dba" in steps["rotate"]["preview"]["text"] and "********" in steps["rotate"]["preview"]["text"]
    assert steps["release"]["would_check_in"] == "lease"
    assert steps["tell"]["would_notify"]["recipients"] == ["http://127.0.0.1:9/slack"]
    assert steps["tell"]["would_notify"]["body"] == "billing password rotated"


def test_parallel_and_child_workflow_have_nested_predictions(client, examples, hosts, org):
    group = HostGroupFactory(organization=org, name="web")
    group.hosts.set(hosts[:5])

    health = simulate(client, examples["health-check"], groups=["web"])
    checks = by_id(health)["checks"]
    assert checks["join"] == "all" and list(checks["branches"]) == ["disk", "load"]
    assert checks["branches"]["disk"][0]["job_count"] == 5
    assert "disk" in by_id(health)["judge"]["undetermined"]

    multi = simulate(client, examples["multi-deploy"], groups=[group.pk], variables={"change_ticket": "CHG-7"})
    batches = by_id(multi)["batches"]
    assert batches["batch_count"] == 3 and batches["batches"][2] == {"index": 2, "hosts": ["web-04"]}
    assert batches["child"]["name"] == "config-deploy"
    child = batches["child_simulation"]
    assert child["hosts"] == ["web-00", "web-01"] and child["variables"]["change_ticket"] == "CHG-7"
    assert multi["summary"]["child_instances"] == 3


def test_sensitive_variables_are_masked(org, client):
    definition = definition_create(organization=org, actor=None, **basic(
        name="secretive", variables=[{"name": "token", "sensitive": True}], steps=[
            {"id": "note", "type": "notification",
             "config": {"channel": "webhook", "url": "https://hooks.example.com/x", "body": "t={{ vars.token }}"}}]))

    response = client.post(f"/api/workflows/{definition.pk}/simulate/", {"variables": {"token": "tok-123"}},
                           format="json")

    assert "tok-123" not in response.content.decode()
    assert by_id(response.json())["note"]["would_notify"]["body"] == "t=********"


@pytest.mark.parametrize(("body", "code"), [
    ({"variables": {"nope": 1}}, "unknown_variable"),
    ({"hosts": [999999]}, "unknown_reference"),
    ({"hosts": ["no-such-host"]}, "unknown_reference"),
    ({"groups": ["no-such-group"]}, "unknown_reference"),
    ({"hosts": "web-00"}, "invalid"),
])
def test_bad_requests_are_400(client, examples, body, code):
    response = client.post(f"/api/workflows/{examples['config-deploy'].pk}/simulate/", body, format="json")
    assert response.status_code == 400 and response.json()["code"] == code


def test_foreign_hosts_and_definitions_are_not_found(client, examples, other_org):
    foreign_host = HostFactory(organization=other_org)
    response = client.post(f"/api/workflows/{examples['config-deploy'].pk}/simulate/", {"hosts": [foreign_host.pk]},
                           format="json")
    assert response.status_code == 400 and str(foreign_host.pk) in response.json()["detail"]
    foreign = definition_create(organization=other_org, actor=None, **basic())
    assert client.post(f"/api/workflows/{foreign.pk}/simulate/", {}, format="json").status_code == 404


def test_simulate_creates_nothing(client, examples, hosts, org):
    versions = WorkflowVersion.objects.count()
    for definition in examples.values():
        report = simulate(client, definition, hosts=[h.pk for h in hosts])
        assert report["steps"]
        json.dumps(report)

    assert WorkflowInstance.objects.count() == 0
    assert StepExecution.objects.count() == 0
    assert Job.objects.count() == 0
    assert ApprovalRequest.objects.count() == 0
    assert PamSession.objects.count() == 0
    assert WorkflowVersion.objects.count() == versions
    assert mail.outbox == []


def test_simulate_needs_the_execute_permission(api, viewer, org, examples):
    response = api(viewer, org).post(f"/api/workflows/{examples['config-deploy'].pk}/simulate/", {}, format="json")
    assert response.status_code == 403 and "workflows.execute" in response.json()["detail"]
