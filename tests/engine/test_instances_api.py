"""POST /api/workflows/{id}/run/ and the /api/instances/ reads (list filters, detail,
logs), without a worker: instances stay where the test puts them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.engine.models import StepExecution, Timer, WorkflowInstance
from apps.jobs.logs import LogEntry, log_append
from apps.jobs.models import Job
from apps.workflows.services import definition_create, definition_publish, definition_update

pytestmark = pytest.mark.django_db

STEPS = [{"id": "hello", "type": "command", "config": {"command": "echo {{ vars.greeting }}"}}]
VARIABLES = [{"name": "greeting", "default": "hi"}, {"name": "token", "sensitive": True, "default": "s3kr1t-default"}]


@pytest.fixture
def definition(org, owner):
    created = definition_create(organization=org, actor=owner, name="greet", steps=STEPS, variables=VARIABLES)
    return definition_publish(definition_id=created.pk, organization=org, actor=owner)


@pytest.fixture
def hosts(org):
    from apps.inventory.services import host_create, host_group_create

    web = [host_create(organization=org, actor=None, hostname=f"web-{i}", primary_ip=f"10.0.0.{i}") for i in (1, 2)]
    host_group_create(organization=org, actor=None, name="web", hosts=[h.pk for h in web])
    return web


def run_url(definition) -> str:
    return f"/api/workflows/{definition.pk}/run/"


def test_run_starts_a_pending_instance_with_frozen_targets_and_redacted_variables(api, operator, definition, hosts):
    response = api(operator, definition.organization).post(
        run_url(definition), {"groups": ["web"], "variables": {"greeting": "hello"}}, format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["trigger"], body["triggered_by"], body["version_number"]) == (
        "pending",
        "api",
        "operator",
        definition.versions.first().number,
    )
    assert [h["hostname"] for h in body["hosts"]] == ["web-1", "web-2"]
    assert body["variables"] == {"greeting": "hello", "token": "***"}
    instance = WorkflowInstance.objects.get(pk=body["id"])
    assert instance.snapshot["steps"] == STEPS
    assert "s3kr1t-default" not in str(instance.snapshot) + str(instance.variables) + instance.sensitive_variables


def test_the_frozen_snapshot_ignores_later_edits(api, owner, operator, definition, org):
    instance_id = api(operator, org).post(run_url(definition), {}, format="json").json()["id"]
    definition_update(organization=org, definition_id=definition.pk, actor=owner, is_published=False)

    assert WorkflowInstance.objects.get(pk=instance_id).snapshot["steps"] == STEPS


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"variables": {"nope": 1}}, 400, "unknown_variable"),
        ({"hosts": ["no-such-host"]}, 400, "unknown_target"),
        ({"hosts": ["²"]}, 400, "unknown_target"),
        ({"hosts": [True]}, 400, None),
        ({"scheduled_for": "tomorrow"}, 400, None),
        ({"surprise": 1}, 400, None),
    ],
)
def test_bad_run_requests_are_clear_400s(api, operator, definition, hosts, payload, status, code):
    response = api(operator, definition.organization).post(run_url(definition), payload, format="json")

    assert response.status_code == status, response.json()
    assert response.json()["detail"]
    if code:
        assert response.json()["code"] == code
    assert not WorkflowInstance.objects.exists()


def test_an_inactive_definition_cannot_start(api, owner, operator, definition, org):
    definition_update(organization=org, definition_id=definition.pk, actor=owner, is_active=False)

    response = api(operator, org).post(run_url(definition), {}, format="json")

    assert (response.status_code, response.json()["code"]) == (409, "definition_inactive")


def test_viewers_cannot_run_and_other_organizations_get_404(api, viewer, definition, other_org, make_member):
    assert api(viewer, definition.organization).post(run_url(definition), {}, format="json").status_code == 403
    stranger = make_member(other_org, "operator")
    assert api(stranger, other_org).post(run_url(definition), {}, format="json").status_code == 404


def test_scheduled_for_makes_a_scheduled_instance_with_a_start_timer(api, operator, definition):
    when = timezone.now() + timedelta(hours=2)

    body = (
        api(operator, definition.organization)
        .post(run_url(definition), {"scheduled_for": when.isoformat()}, format="json")
        .json()
    )

    assert body["status"] == "scheduled"
    timer = Timer.objects.get(instance_id=body["id"], kind="start")
    assert abs((timer.due_at - when).total_seconds()) < 1


def test_list_filters_and_detail_with_steps_jobs_and_logs(api, operator, definition, org):
    client = api(operator, org)
    first = client.post(run_url(definition), {}, format="json").json()["id"]
    second = client.post(run_url(definition), {}, format="json").json()["id"]
    WorkflowInstance.objects.filter(pk=second).update(status="failed", error_class="NonZeroExit")
    step = StepExecution.objects.create(instance_id=second, step_id="hello", step_type="command", status="failed")
    Job.objects.create(
        instance_id=second, step_execution=step, step_id="hello", hostname="web-1", status="failed", exit_code=3
    )
    log_append(second, [LogEntry(step_id="hello", line=f"line {i}", stream="stdout", host="web-1") for i in range(5)])

    assert [i["id"] for i in client.get("/api/instances/", {"status": "failed"}).json()["results"]] == [second]
    assert {i["id"] for i in client.get("/api/instances/", {"workflow": definition.pk}).json()["results"]} == {
        first,
        second,
    }
    assert client.get("/api/instances/", {"triggered_by": "nobody"}).json()["count"] == 0
    later = (timezone.now() + timedelta(minutes=1)).isoformat()
    assert client.get("/api/instances/", {"created_after": later}).json()["count"] == 0

    detail = client.get(f"/api/instances/{second}/").json()
    assert detail["steps"][0]["jobs"][0] | {"hostname": "web-1", "exit_code": 3} == detail["steps"][0]["jobs"][0]
    logs = client.get(f"/api/instances/{second}/logs/", {"after": 2, "limit": 2}).json()
    assert [line["line"] for line in logs["lines"]] == ["line 2", "line 3"] and logs["has_more"] is True
    assert client.get(f"/api/instances/{second}/logs/", {"q": "line 4"}).json()["lines"][0]["seq"] == 5


def test_detail_shows_each_steps_first_jobs_and_jobs_pages_through_all(api, operator, org, other_org, make_member):
    from apps.engine.selectors import DETAIL_JOBS_PER_STEP

    instance = WorkflowInstance.objects.create(organization=org, workflow_name="big", snapshot={"steps": []},
                                               status="running")
    step = StepExecution.objects.create(instance=instance, step_id="patch", step_type="command", status="running")
    total = DETAIL_JOBS_PER_STEP + 30
    Job.objects.bulk_create([
        Job(instance=instance, step_execution=step, step_id="patch", hostname=f"node-{i:03}",
            status="failed" if i % 10 == 0 else "succeeded")
        for i in range(total)
    ])
    client = api(operator)

    detail = client.get(f"/api/instances/{instance.pk}/").json()
    assert len(detail["steps"][0]["jobs"]) == DETAIL_JOBS_PER_STEP
    assert detail["steps"][0]["jobs_total"] == total

    page = client.get(f"/api/instances/{instance.pk}/jobs/?step=patch&page_size=50").json()
    assert page["count"] == total and len(page["results"]) == 50 and page["next"]
    failed = client.get(f"/api/instances/{instance.pk}/jobs/?status=failed").json()
    assert failed["count"] == len(range(0, total, 10))
    assert {job["status"] for job in failed["results"]} == {"failed"}
    one = client.get(f"/api/instances/{instance.pk}/jobs/?host=node-007").json()
    assert [job["hostname"] for job in one["results"]] == ["node-007"]
    stranger = make_member(other_org, role="owner")
    assert api(stranger, other_org).get(f"/api/instances/{instance.pk}/jobs/").status_code == 404
