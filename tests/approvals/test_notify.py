"""When a gate opens its approvers are told (issue 12 item 7): an e-mail to each member who
may answer it and has an address, and the definition's `approval_notify` target. Sent by
the real worker after the engine's commit; a failed delivery is recorded, the run goes on."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core import mail

from apps.accounts.roles import Role
from apps.approvals.models import ApprovalRequest
from apps.workflows.validation import validate_definition
from tests.engine.conftest import hook_server, until, wait_for  # noqa: F401 (fixture)

DONE = {"succeeded", "failed", "rejected", "timeout", "canceled", "terminated"}
PLAN = {"id": "plan", "type": "command", "on_success": "gate",
        "config": {"command": "echo '{\"diff\": \"+ ntp server 10.0.0.9\"}'"}}


def _gate(approvers: list[str], **config: Any) -> dict[str, Any]:
    return {"id": "gate", "type": "approval", "on_success": "done",
            "config": {"approvers": approvers, "message": "Apply the NTP change?", "plan_from": "plan", **config}}


DONE_STEP = {"id": "done", "type": "set", "config": {"variables": {"applied": "yes"}}}


def _waiting(instance: Any) -> ApprovalRequest:
    wait_for(instance, step="gate", step_status="waiting")
    return ApprovalRequest.objects.get(step_execution__instance=instance, step_id="gate")


def _recorded(approval: ApprovalRequest) -> list[dict[str, Any]]:
    until(lambda: ApprovalRequest.objects.get(pk=approval.pk).notifications != [], timeout=20,
          message="the notice should be recorded on the request")
    return ApprovalRequest.objects.get(pk=approval.pk).notifications


@pytest.mark.worker
@pytest.mark.xdist_group("worker")
def test_listed_approvers_with_execute_and_an_address_are_mailed_and_the_webhook_is_posted(
    worker, make_workflow, run, localhost, org, other_org, make_member, operator, viewer, hook_server  # noqa: F811
):
    server, hook = hook_server
    ops = Group.objects.create(name="ops")
    gina = make_member(org, Role.EDITOR, "gina")  # through group:ops
    gina.groups.add(ops)
    make_member(org, Role.VIEWER, "vic").groups.add(ops)  # in the group, but a viewer
    make_member(other_org, Role.OWNER, "olga").groups.add(ops)  # in the group, another organization
    silent = make_member(org, Role.OPERATOR, "silent")
    silent.email = ""
    silent.save()
    make_member(org, Role.ADMIN, "adam")  # may answer anything, but not listed: not addressed
    url = f"http://127.0.0.1:{server.server_port}/approvals"
    definition = make_workflow(
        [PLAN, _gate(["operator", "viewer", "silent", "group:ops"]), DONE_STEP],
        approval_notify={"channel": "webhook", "url": url, "secret": "hook-secret"},
    )

    instance = run(definition, hosts=[localhost.pk])
    approval = _waiting(instance)
    deliveries = _recorded(approval)

    assert sorted(m.to[0] for m in mail.outbox) == ["gina@example.com", "operator@example.com"]
    assert all(len(m.to) == 1 for m in mail.outbox)  # approvers do not see each other's addresses
    message = mail.outbox[0]
    assert message.subject == f"Approval needed: {definition.name} #{instance.pk}, step gate"
    for text in ("Apply the NTP change?", "Plan (output of step 'plan'):", "+ ntp server 10.0.0.9",
                 f"http://127.0.0.1:8000/approvals/{approval.pk}/", "Approvals inbox: http://127.0.0.1:8000/approvals/"):
        assert text in message.body, text
    assert len(hook.received) == 1
    headers, body = hook.received[0]
    expected = "sha256=" + hmac.new(b"hook-secret", body, hashlib.sha256).hexdigest()
    assert headers["X-Opsflow-Signature"] == expected
    payload = json.loads(body)
    assert (payload["event"], payload["approval"], payload["instance"], payload["step"]) == (
        "approval.requested", approval.pk, instance.pk, "gate")
    assert [(d["channel"], d["recipients"], d["ok"]) for d in deliveries] == [
        ("email", ["gina@example.com"], True), ("email", ["operator@example.com"], True), ("webhook", [url], True)]


@pytest.mark.worker
@pytest.mark.xdist_group("worker")
def test_an_open_gate_mails_every_member_who_may_run_workflows(worker, make_workflow, run, localhost, org,
                                                               make_member, owner, operator, viewer):
    make_member(org, Role.ADMIN, "adam")
    definition = make_workflow([PLAN, _gate([]), DONE_STEP])

    approval = _waiting(run(definition, hosts=[localhost.pk]))  # started by the owner
    _recorded(approval)

    # the owner started the run and the gate refuses self-approval; the viewer may not answer
    assert sorted(m.to[0] for m in mail.outbox) == ["adam@example.com", "operator@example.com"]


@pytest.mark.worker
@pytest.mark.xdist_group("worker")
def test_a_failed_notice_is_recorded_and_the_run_goes_on(worker, make_workflow, run, localhost, org, operator, api,
                                                         hook_server):  # noqa: F811
    server, hook = hook_server
    hook.status = 500
    url = f"http://127.0.0.1:{server.server_port}/slack"
    definition = make_workflow([PLAN, _gate(["operator"]), DONE_STEP],
                               approval_notify={"channel": "slack", "url": url})
    instance = run(definition, hosts=[localhost.pk])
    approval = _waiting(instance)

    deliveries = _recorded(approval)
    response = api(operator, org).post(f"/api/approvals/{approval.pk}/approve/", {}, format="json")

    assert [(d["channel"], d["ok"]) for d in deliveries] == [("email", True), ("slack", False)]
    assert (deliveries[1]["error_class"], deliveries[1]["status_code"]) == ("NotificationFailed", 500)
    assert "text" in json.loads(hook.received[0][1])
    assert response.status_code == 200
    assert wait_for(instance, status=DONE).status == "succeeded"


@pytest.mark.django_db
def test_approval_notify_is_validated_and_kept_in_the_definition(org, owner, api):
    def errors(target: Any) -> list[tuple[str, str]]:
        data = {"name": "w", "approval_notify": target, "steps": [{"id": "gate", "type": "approval"}]}
        return [(i.path, i.code) for i in validate_definition(data, organization_id=None).errors]

    assert errors(None) == []
    assert errors({"channel": "webhook", "url": "https://hooks.example.com/x", "secret": "s"}) == []
    assert errors({"channel": "email", "url": "https://x"}) == [("approval_notify.channel", "invalid_choice")]
    assert errors({"channel": "slack", "url": "ftp://x"}) == [("approval_notify.url", "invalid_url")]
    assert errors({"channel": "slack", "url": "https://x", "secret": "s"}) == [("approval_notify.secret",
                                                                                "not_for_channel")]
    assert errors({"channel": "slack"}) == [("approval_notify.url", "missing_key")]
    assert errors("https://x") == [("approval_notify", "wrong_type")]

    target = {"channel": "slack", "url": "https://hooks.slack.example/T1"}
    client = api(owner, org)
    created = client.post("/api/workflows/", {"name": "announced", "approval_notify": target,
                                              "steps": [{"id": "gate", "type": "approval"}]}, format="json")
    refused = client.post("/api/workflows/", {"name": "bad", "approval_notify": {"channel": "slack"}},
                          format="json")

    assert created.status_code == 201, created.json()
    assert created.json()["approval_notify"] == target
    assert client.get(f"/api/workflows/{created.json()['id']}/export/").json()["approval_notify"] == target
    assert refused.status_code == 400 and "approval_notify.url" in json.dumps(refused.json())
