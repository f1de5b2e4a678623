"""Every model registered in the admin renders its list (with search and filters) and its
detail pages; execution rows are read-only there, and org admins see only their own."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission

from apps.accounts.models import Membership
from apps.accounts.roles import Role
from apps.approvals.models import ApprovalRequest
from apps.audit.models import AuditEvent
from apps.engine.models import StepExecution, WorkflowInstance
from apps.jobs.logs import LogEntry, log_append
from apps.jobs.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def execution_rows(org, other_org):
    rows = {}
    for organization in (org, other_org):
        instance = WorkflowInstance.objects.create(
            organization=organization, workflow_name=f"wf-{organization.slug}", snapshot={"steps": []},
            sensitive_variables="gAAAA-ciphertext-never-shown",
        )
        step = StepExecution.objects.create(instance=instance, step_id="s", step_type="approval", status="waiting")
        Job.objects.create(instance=instance, step_execution=step, step_id="s", hostname=f"h-{organization.slug}")
        log_append(instance.pk, [LogEntry(step_id="s", line=f"line of {organization.slug}")])
        ApprovalRequest.objects.create(organization=organization, instance=instance, step_execution=step, step_id="s")
        rows[organization.slug] = instance
    return rows


def test_every_registered_model_renders_list_search_and_detail(client, superuser, execution_rows):
    client.force_login(superuser)
    for model, model_admin in admin.site._registry.items():
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert client.get(base).status_code == 200, base
        if model_admin.search_fields:
            assert client.get(base, {"q": "x"}).status_code == 200, base
        first = model_admin.get_queryset(_request(superuser)).first()
        if first is not None:
            assert client.get(f"{base}{first.pk}/change/").status_code == 200, model


def test_execution_rows_are_read_only_and_never_show_ciphertext(client, superuser, execution_rows):
    client.force_login(superuser)
    instance = execution_rows["acme"]

    page = client.get(f"/admin/engine/workflowinstance/{instance.pk}/change/").content.decode()

    assert "gAAAA-ciphertext-never-shown" not in page
    assert client.get("/admin/engine/workflowinstance/add/").status_code == 403
    assert client.post(f"/admin/engine/workflowinstance/{instance.pk}/delete/", {"post": "yes"}).status_code == 403
    assert WorkflowInstance.objects.filter(pk=instance.pk).exists()


def test_org_admins_see_only_their_organizations_rows(client, org, make_member, execution_rows):
    staff = make_member(org, Role.ADMIN)
    staff.is_staff = True
    staff.save()
    staff.user_permissions.add(*Permission.objects.filter(codename__startswith="view_"))
    assert Membership.objects.filter(user=staff).count() == 1
    client.force_login(staff)

    jobs = client.get("/admin/jobs/job/").content.decode()
    logs = client.get("/admin/jobs/logline/").content.decode()

    assert "h-acme" in jobs and "h-globex" not in jobs
    assert "line of acme" in logs and "line of globex" not in logs
    foreign = execution_rows["globex"]
    assert client.get(f"/admin/engine/workflowinstance/{foreign.pk}/change/").status_code in (302, 404)


def test_the_cancel_action_goes_through_the_service(client, superuser, execution_rows):
    client.force_login(superuser)
    instance = execution_rows["acme"]
    WorkflowInstance.objects.filter(pk=instance.pk).update(status="running")

    client.post("/admin/engine/workflowinstance/", {"action": "cancel_force", "_selected_action": [instance.pk]})

    instance.refresh_from_db()
    assert instance.status in {"force_canceling", "canceled"}
    assert AuditEvent.objects.filter(action="instance.cancel.force", target_id=str(instance.pk)).exists()


def test_pause_resume_and_terminate_actions_go_through_the_services(client, superuser, execution_rows):
    client.force_login(superuser)
    instance = execution_rows["acme"]
    WorkflowInstance.objects.filter(pk=instance.pk).update(status="running")
    changelist = "/admin/engine/workflowinstance/"

    client.post(changelist, {"action": "pause", "_selected_action": [instance.pk]})
    instance.refresh_from_db()
    # its running job finishes first (the fixture's rows include one)
    assert (instance.status, instance.pause_reason) in {("pausing", "operator"), ("paused", "operator")}
    client.post(changelist, {"action": "resume", "_selected_action": [instance.pk]})
    instance.refresh_from_db()
    assert instance.status == "running"
    client.post(changelist, {"action": "terminate", "_selected_action": [instance.pk]})
    instance.refresh_from_db()
    assert instance.status == "terminated"
    actions = AuditEvent.objects.filter(target_id=str(instance.pk), action__in=[
        "instance.pause", "instance.resume", "instance.terminate"]).order_by("id")
    assert [(e.action, e.actor_username, e.data["reason"]) for e in actions] == [
        ("instance.pause", superuser.username, "admin action"),
        ("instance.resume", superuser.username, "admin action"),
        ("instance.terminate", superuser.username, "admin action"),
    ]

    response = client.post(changelist, {"action": "retry", "_selected_action": [instance.pk]}, follow=True)
    assert "Only a failed instance can be retried" in response.content.decode()  # the refusal, as a message


def _request(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = user
    return request
