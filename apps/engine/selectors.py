"""Org-scoped reads of instances, steps, jobs and logs."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from apps.accounts.models import Organization
from apps.engine.models import StepExecution, WorkflowInstance
from apps.jobs.models import Job, LogLine


def instances_list(*, organization: Organization) -> QuerySet[WorkflowInstance]:
    return WorkflowInstance.objects.filter(organization=organization).select_related("triggered_by")


def instance_detail(*, organization: Organization) -> QuerySet[WorkflowInstance]:
    jobs = Job.objects.order_by("id").only(
        "id", "step_execution_id", "hostname", "status", "exit_code", "attempt", "is_canary", "error_class",
        "error_message", "started_at", "finished_at", "output",
    )
    steps = StepExecution.objects.order_by("id").prefetch_related(Prefetch("jobs", queryset=jobs))
    return instances_list(organization=organization).prefetch_related(Prefetch("steps", queryset=steps))


def log_lines(
    *,
    instance: WorkflowInstance,
    after: int = 0,
    step: str | None = None,
    host: str | None = None,
    stream: str | None = None,
    query: str | None = None,
) -> QuerySet[LogLine]:
    lines = LogLine.objects.filter(instance=instance, seq__gt=after)
    if step:
        lines = lines.filter(step_id=step)
    if host:
        lines = lines.filter(host=host)
    if stream:
        streams = ["stderr", "system"] if stream == "errors" else stream.split(",")
        lines = lines.filter(stream__in=streams)
    if query:
        lines = lines.filter(line__icontains=query)
    return lines.order_by("seq")
