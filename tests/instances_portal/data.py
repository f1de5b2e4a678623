"""Rows for the run and instance page tests. Definitions are created directly (published),
instances through `instance_start` where the test is about starting, and steps, jobs and
log lines directly: no Celery worker runs in these tests, so instances stay pending."""

from __future__ import annotations

from datetime import timedelta
from itertools import count
from typing import Any

from django.utils import timezone

from apps.accounts.models import Organization
from apps.engine.models import StepExecution, WorkflowInstance
from apps.jobs.models import Job, LogLine
from apps.workflows.models import WorkflowDefinition

SECRET = "tok-5ecret-value-never-shown"
SECRET_DEFAULT = "default-5ecret-never-shown"

STEPS = [
    {"id": "plan", "type": "command", "config": {"command": "echo {{ vars.package }}"}, "on_success": "apply"},
    {"id": "apply", "type": "command", "config": {"command": "true"}, "on_success": "verify"},
    {"id": "verify", "type": "command", "config": {"command": "true"}, "on_success": None},
]
VARIABLES = [
    {"name": "package", "default": "openssl", "description": "Package to patch"},
    {"name": "batch", "default": 3},
    {"name": "api_token", "sensitive": True},
    {"name": "vault_key", "sensitive": True, "default": SECRET_DEFAULT},
]

_seq = count(1)


def make_definition(organization: Organization, name: str = "patch-web", **fields: Any) -> WorkflowDefinition:
    fields = {"steps": STEPS, "variables": VARIABLES, "is_published": True, **fields}
    return WorkflowDefinition.objects.create(organization=organization, name=name, **fields)


def make_instance(
    organization: Organization,
    status: str = "pending",
    *,
    definition: WorkflowDefinition | None = None,
    created_hours_ago: float = 0,
    **fields: Any,
) -> WorkflowInstance:
    now = timezone.now()
    instance = WorkflowInstance.objects.create(
        organization=organization,
        definition=definition,
        workflow_name=definition.name if definition else fields.pop("workflow_name", "adhoc"),
        snapshot={"steps": STEPS, "variables": VARIABLES},
        status=status,
        **fields,
    )
    if created_hours_ago:
        WorkflowInstance.objects.filter(pk=instance.pk).update(created_at=now - timedelta(hours=created_hours_ago))
    return instance


def make_step(instance: WorkflowInstance, step_id: str, status: str, **fields: Any) -> StepExecution:
    return StepExecution.objects.create(
        instance=instance, step_id=step_id, step_type=fields.pop("step_type", "command"), status=status,
        attempt=fields.pop("attempt", 1), **fields,
    )


def make_job(step: StepExecution, hostname: str, status: str, **fields: Any) -> Job:
    return Job.objects.create(
        instance=step.instance, step_execution=step, step_id=step.step_id, hostname=hostname, status=status,
        attempt=fields.pop("attempt", step.attempt), **fields,
    )


def make_log(instance: WorkflowInstance, step: str, host: str, stream: str, line: str) -> LogLine:
    return LogLine.objects.create(
        instance=instance, seq=next(_seq), step_id=step, host=host, stream=stream, ts=timezone.now(), line=line
    )
