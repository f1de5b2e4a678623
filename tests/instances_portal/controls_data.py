"""Runs in a given state for the operator-control page tests: rows written directly (no
worker runs here, so nothing moves on its own), with a snapshot of the graph below."""

from __future__ import annotations

from typing import Any

from django.test import Client
from django.urls import reverse

from apps.accounts.models import Organization
from apps.engine.models import StepExecution, WorkflowInstance
from apps.jobs.models import Job
from apps.workflows.models import WorkflowDefinition

# plan -> fork (parallel: left, right) -> apply -> gate (approval) -> report; cleanup on cancel.
GRAPH = [
    {"id": "plan", "type": "command", "config": {"command": "echo plan"}, "on_success": "fork"},
    {"id": "fork", "type": "parallel", "config": {"branches": ["left", "right"]}, "on_success": "apply"},
    {"id": "left", "type": "command", "config": {"command": "echo left"}},
    {"id": "right", "type": "command", "config": {"command": "echo right"}, "skippable": True},
    {"id": "apply", "type": "command", "config": {"command": "echo apply"}, "on_success": "gate",
     "on_failure": "cleanup", "retryable": False},
    {"id": "gate", "type": "approval", "config": {"message": "Go?"}, "on_success": "report"},
    {"id": "report", "type": "set", "config": {"variables": {"done": True}}},
    {"id": "cleanup", "type": "command", "config": {"command": "echo cleanup"}},
]
TARGETS = [{"id": i, "hostname": f"web-{i}", "connection": "local"} for i in (1, 2, 3)]


def make_run(organization: Organization, status: str, *, on_cancel: str | None = None, **fields: Any
             ) -> WorkflowInstance:
    definition = WorkflowDefinition.objects.filter(organization=organization, name="deploy").first()
    if definition is None:
        definition = WorkflowDefinition.objects.create(organization=organization, name="deploy", steps=GRAPH,
                                                       is_published=True)
    snapshot = {"steps": GRAPH, "variables": [], "start": "plan", "on_cancel": on_cancel}
    return WorkflowInstance.objects.create(
        organization=organization, definition=definition, workflow_name="deploy", version_number=1,
        snapshot=snapshot, status=status, targets=TARGETS, variables={}, **fields,
    )


def make_row(instance: WorkflowInstance, step_id: str, status: str, **fields: Any) -> StepExecution:
    spec = next(spec for spec in GRAPH if spec["id"] == step_id)
    return StepExecution.objects.create(instance=instance, step_id=step_id, step_type=spec["type"], status=status,
                                        attempt=fields.pop("attempt", 1), **fields)


def make_jobs(step: StepExecution, failed_on: tuple[str, ...] = ()) -> None:
    for target in TARGETS:
        failed = target["hostname"] in failed_on
        Job.objects.create(instance=step.instance, step_execution=step, step_id=step.step_id,
                           hostname=target["hostname"], status="failed" if failed else "succeeded",
                           exit_code=1 if failed else 0, attempt=step.attempt)


def detail(instance: WorkflowInstance) -> str:
    return reverse("engine:instance-detail", args=[instance.pk])


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def login(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client
