"""Per-step actions on the run page (retry, skip, approve / reject a waiting gate), the
progress graph's data, the History section and the live fragment's controls."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from apps.approvals.models import ApprovalRequest
from apps.audit.models import AuditEvent
from apps.engine.controls import instance_pause
from tests.instances_portal.controls_data import detail, login, make_jobs, make_row, make_run, messages_of

pytestmark = pytest.mark.django_db


def step_html(html: str, step_id: str) -> str:
    return re.search(rf'<li class="step" id="step-{step_id}".*?</li>\s*(?=<li class="step"|</ol>)', html, re.S).group(0)


def step_url(action: str, instance, step_id: str) -> str:
    return reverse(f"engine:step-{action}", args=[instance.pk, step_id])


@pytest.fixture
def held(org, owner):
    """A run held on failed steps (hold_on_failure): `right` (skippable) failed on web-2,
    `apply` (retryable: false) failed too; `plan` succeeded."""
    instance = make_run(org, "paused", pause_reason="step_failed", triggered_by=owner)
    make_jobs(make_row(instance, "plan", "succeeded"))
    make_row(instance, "fork", "running")
    make_row(instance, "left", "succeeded", parallel_id="fork", branch="left")
    make_jobs(make_row(instance, "right", "failed", parallel_id="fork", branch="right", error_class="NonZeroExit",
                       error_message="web-2 exited with 3"), failed_on=("web-2",))
    return instance


def test_a_failed_step_offers_retry_and_skip_when_skippable(client, operator, held):
    login(client, operator)
    html = client.get(detail(held)).content.decode()
    right = step_html(html, "right")
    assert f'data-action="{step_url("retry", held, "right")}"' in right
    assert f'data-action="{step_url("skip", held, "right")}"' in right
    assert "disabled" not in right
    plan = step_html(html, "plan")
    assert "Retry step" not in plan and "Skip step" not in plan  # succeeded: nothing to do


def test_retry_a_held_step(client, operator, held):
    login(client, operator)
    response = client.post(step_url("retry", held, "right"), {"reason": "host is back"})
    assert response.status_code == 302 and response["Location"] == f"{detail(held)}#step-right"
    assert messages_of(client.get(detail(held))) == [f"Step 'right' of run #{held.pk} will run again."]
    held.refresh_from_db()
    assert (held.status, held.pause_reason) == ("running", "")
    assert held.steps.get(step_id="right").status == "pending"
    event = AuditEvent.objects.get(action="step.retry")
    assert (event.actor_username, event.data["step"], event.data["reason"]) == ("operator", "right", "host is back")


def test_skip_a_held_step(client, operator, held):
    login(client, operator)
    response = client.post(step_url("skip", held, "right"), {"reason": "web-2 is retired"}, follow=True)
    assert messages_of(response) == [f"Step 'right' of run #{held.pk} was skipped; the run goes on."]
    right = held.steps.get(step_id="right")
    assert right.status == "skipped" and right.result["skip_reason"] == "web-2 is retired"


def test_retry_is_disabled_with_the_reason(client, operator, org, held):
    make_row(held, "apply", "failed", error_class="NonZeroExit")  # `retryable: false` in the graph
    held.steps.filter(step_id="right").update(error_class="PermissionDenied")
    login(client, operator)
    html = client.get(detail(held)).content.decode()
    apply = step_html(html, "apply")
    assert "disabled" in apply and "this step is not retryable" in apply
    assert "Skip step" not in apply  # not skippable: no button at all
    right = step_html(html, "right")
    assert 'title="Step &#x27;right&#x27; failed with PermissionDenied, which is never retried' in right
    assert "this error is never retried: start a new run" in right

    response = client.post(step_url("retry", held, "apply"), follow=True)
    assert messages_of(response) == [f"Could not retry step 'apply' of run #{held.pk}: Step 'apply' is not retryable."]
    response = client.post(step_url("skip", held, "apply"), follow=True)
    assert messages_of(response) == [f"Could not skip step 'apply' of run #{held.pk}: Step 'apply' is not skippable."]
    assert held.steps.get(step_id="apply").status == "failed"

    ended = make_run(org, "failed")
    make_row(ended, "plan", "failed", error_class="NonZeroExit")
    plan = step_html(client.get(detail(ended)).content.decode(), "plan")
    assert "disabled" in plan and "the run has ended: retry the run instead" in plan
    assert "Re-run from this step" in plan


def test_step_actions_unknown_step_is_not_found(client, operator, held):
    login(client, operator)
    assert client.post(step_url("retry", held, "nope")).status_code == 404


# --- approvals ------------------------------------------------------------------------------
@pytest.fixture
def gate(org, owner):
    instance = make_run(org, "running", pause_reason="awaiting_approval", triggered_by=owner)
    make_row(instance, "plan", "succeeded")
    step = make_row(instance, "gate", "waiting", wait_reason="awaiting_approval")
    return ApprovalRequest.objects.create(organization=org, instance=instance, step_execution=step, step_id="gate",
                                          message="Apply CHG-42?", requested_by=owner)


def test_a_waiting_gate_offers_approve_and_reject_to_who_may_answer(client, operator, viewer, gate):
    login(client, operator)
    gate_html = step_html(client.get(detail(gate.instance)).content.decode(), "gate")
    assert "Apply CHG-42?" in gate_html and "(0 of 1 approval)" in gate_html
    assert f'data-action="{reverse("approvals:approve", args=[gate.pk])}"' in gate_html
    assert f'data-action="{reverse("approvals:reject", args=[gate.pk])}"' in gate_html
    assert f'data-next="{detail(gate.instance)}#step-gate"' in gate_html

    login(client, viewer)  # no approvers listed: only those who may run workflows answer
    gate_html = step_html(client.get(detail(gate.instance)).content.decode(), "gate")
    assert "Approve…" not in gate_html and "Reject…" not in gate_html
    assert "You are not an approver of this request" in gate_html


def test_the_owner_cannot_approve_their_own_run_but_may_reject(client, owner, gate):
    login(client, owner)
    gate_html = step_html(client.get(detail(gate.instance)).content.decode(), "gate")
    assert "Approve…" not in gate_html and "Reject…" in gate_html


def test_approve_and_reject_come_back_to_the_run(client, operator, gate):
    login(client, operator)
    back = f"{detail(gate.instance)}#step-gate"
    response = client.post(reverse("approvals:reject", args=[gate.pk]), {"comment": "", "next": back})
    assert response.status_code == 302 and response["Location"] == back
    assert messages_of(client.get(detail(gate.instance))) == [
        f"Request #{gate.pk} was not answered: A comment is required to reject."]

    response = client.post(reverse("approvals:reject", args=[gate.pk]), {"comment": "not today", "next": back})
    assert response["Location"] == back
    gate.refresh_from_db()
    assert gate.status == "rejected"
    page = client.get(detail(gate.instance))
    history = re.search(r'<section id="history".*?</section>', page.content.decode(), re.S).group(0)
    assert "Rejected" in history and "not today" in history and "<code>gate</code>" in history


# --- the progress graph ----------------------------------------------------------------------
def test_the_graph_has_every_step_with_its_status_and_the_routes(client, viewer, held):
    login(client, viewer)
    html = client.get(detail(held)).content.decode()
    data = json.loads(re.search(r'<script id="run-dag-data" type="application/json">(.*?)</script>', html,
                                re.S).group(1))
    nodes = {node["id"]: node for node in data["nodes"]}
    assert list(nodes) == ["plan", "fork", "left", "right", "apply", "gate", "report", "cleanup"]
    assert (nodes["plan"]["status"], nodes["plan"]["tone"], nodes["plan"]["icon"]) == ("succeeded", "ok", "✓")
    assert (nodes["fork"]["tone"], nodes["right"]["tone"]) == ("active", "bad")
    assert (nodes["apply"]["status"], nodes["apply"]["label"], nodes["apply"]["tone"]) == (
        "pending", "not reached yet", "idle")
    edges = {(e["from"], e["to"]): e["kind"] for e in data["edges"]}
    assert edges == {
        ("plan", "fork"): "success", ("fork", "left"): "branch", ("fork", "right"): "branch",
        ("fork", "apply"): "success", ("apply", "gate"): "success", ("apply", "cleanup"): "failure",
        ("gate", "report"): "success",
    }
    assert data["start"] == "plan"
    # Without scripts the same states read as a list, in words.
    fallback = re.search(r'<ol class="dag-fallback">(.*?)</ol>', html, re.S).group(1)
    assert re.search(r'<li data-step="right"><code>right</code> <span class="status status-bad" '
                     r'data-status="failed">.*?failed</span>', fallback, re.S)


def test_a_finished_run_says_not_run_for_steps_it_never_reached(client, viewer, org):
    instance = make_run(org, "succeeded")
    make_row(instance, "plan", "succeeded")
    login(client, viewer)
    html = client.get(detail(instance)).content.decode()
    data = json.loads(re.search(r'<script id="run-dag-data" type="application/json">(.*?)</script>', html,
                                re.S).group(1))
    assert {node["id"]: node["label"] for node in data["nodes"]}["report"] == "not run"


# --- history and the live fragment -----------------------------------------------------------
def test_history_lists_who_did_what_and_why(client, operator, viewer, org):
    instance = make_run(org, "running")
    instance_pause(instance_id=instance.pk, organization_id=org.pk, actor=operator, reason="lunch <break>")
    login(client, viewer)
    html = client.get(detail(instance)).content.decode()
    history = re.search(r'<section id="history".*?</section>', html, re.S).group(0)
    row = re.search(r'<tr data-action="instance.pause">(.*?)</tr>', history, re.S).group(1)
    assert "<td>operator</td>" in row and "<td>Paused</td>" in row and "lunch &lt;break&gt;" in row
    assert '<a href="#history">History</a>' in html


def test_the_live_fragment_carries_the_controls_for_who_may_act(client, operator, viewer, held):
    live = reverse("engine:instance-live", args=[held.pk])
    login(client, operator)
    html = client.get(live).content.decode()
    assert 'data-control="resume"' in html and step_url("retry", held, "right") in html
    assert 'id="run-dag-data"' in html
    login(client, viewer)
    html = client.get(live).content.decode()
    assert 'data-control="' not in html and "Retry step" not in html
