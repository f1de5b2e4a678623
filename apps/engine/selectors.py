"""Org-scoped reads of instances, steps, jobs and logs."""

from __future__ import annotations

from django.db.models import Count, Prefetch, QuerySet

from apps.accounts.models import Organization
from apps.engine.models import StepExecution, WorkflowInstance
from apps.jobs.models import Job, LogLine, job_live


def instances_list(*, organization: Organization) -> QuerySet[WorkflowInstance]:
    return WorkflowInstance.objects.filter(organization=organization).select_related("triggered_by")


def instance_for_org(*, instance_id: int, organization_id: int) -> WorkflowInstance:
    instance = WorkflowInstance.objects.filter(pk=instance_id, organization_id=organization_id).first()
    if instance is None:
        from apps.core.errors import NotFound

        raise NotFound("Instance not found.")
    return instance


# The detail shows the first jobs of each step; a 10,000-host step pages through
# /api/instances/{id}/jobs/ instead of loading every row into one response.
DETAIL_JOBS_PER_STEP = 100
JOB_FIELDS = ("id", "step_execution_id", "step_id", "hostname", "status", "exit_code", "attempt", "is_canary",
              "error_class", "error_message", "started_at", "finished_at", "output", "stop_request", "pgid",
              "verified_stopped_at")
# Per step: jobs whose processes may still run (apps.jobs.models.JOB_LIVE).
LIVE_JOBS = Count("jobs", filter=job_live("jobs__"))


def instance_detail(*, organization: Organization) -> QuerySet[WorkflowInstance]:
    jobs = Job.objects.order_by("id").only(*JOB_FIELDS)[:DETAIL_JOBS_PER_STEP]
    steps = (
        StepExecution.objects.order_by("id")
        .annotate(jobs_total=Count("jobs"), live_jobs=LIVE_JOBS)
        .prefetch_related(Prefetch("jobs", queryset=jobs, to_attr="first_jobs"))
    )
    return instances_list(organization=organization).prefetch_related(Prefetch("steps", queryset=steps))


def instance_jobs(
    *, instance: WorkflowInstance, step: str | None = None, status: str | None = None, host: str | None = None
) -> QuerySet[Job]:
    jobs = Job.objects.filter(instance=instance).only(*JOB_FIELDS).order_by("id")
    if step:
        jobs = jobs.filter(step_id=step)
    if status:
        jobs = jobs.filter(status__in=status.split(","))
    if host:
        jobs = jobs.filter(hostname=host)
    return jobs


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


def instance_history(*, instance: WorkflowInstance, limit: int = 1000) -> list[dict]:
    """Every control action on the instance and every approval response to its gates,
    oldest first: actor, time, reason or comment."""
    from django.db.models import Q

    from apps.audit.models import AuditEvent

    events = (
        AuditEvent.objects.filter(organization_id=instance.organization_id)
        .filter(
            Q(target_type=instance._meta.label_lower, target_id=str(instance.pk))
            | Q(action="approval.respond", data__instance=instance.pk)
        )
        .order_by("created_at", "id")[:limit]
    )
    return [
        {
            "id": event.pk,
            "time": event.created_at,
            "actor": event.actor_username or None,
            "action": event.action,
            "step": event.data.get("step"),
            "reason": event.data.get("reason") or event.data.get("error_message") or "",
            "comment": event.data.get("comment", ""),
            "data": event.data,
        }
        for event in events
    ]
