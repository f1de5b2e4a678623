"""Org-scoped reads for the portal's run and instance pages, built on the engine's
selectors (`apps.engine.selectors`) with what a page needs and no more: a bounded number
of jobs per step, the tail of the log, a short list of host candidates."""

from __future__ import annotations

from django.db.models import Count, Prefetch, QuerySet

from apps.accounts.models import Organization
from apps.core.errors import NotFound
from apps.core.refs import storable_ids
from apps.engine.models import StepExecution, WorkflowInstance
from apps.engine.selectors import LIVE_JOBS, instances_list, log_lines
from apps.inventory.models import Host, HostGroup
from apps.inventory.selectors import host_group_list, host_list, host_search
from apps.jobs.models import Job, LogLine
from apps.workflows.models import WorkflowDefinition
from apps.workflows.selectors import definition_list

JOBS_PER_STEP = 50
HOST_CANDIDATES = 20


def instance_rows(*, organization: Organization) -> QuerySet[WorkflowInstance]:
    """Instances for a list: without the large JSON columns (snapshot, a 10,000-host target
    list) that a row never shows."""
    return instances_list(organization=organization).defer(
        "snapshot", "targets", "trigger_data", "variables", "sensitive_variables"
    )


def instance_page_get(*, organization: Organization, instance_id: int) -> WorkflowInstance:
    """The instance with its steps (each with `job_count` and `live_jobs`) and, per step, the
    latest attempt's jobs first, at most JOBS_PER_STEP of them: a 10,000-host step stays a
    page. `instance.live_jobs`: jobs whose processes may still run."""
    jobs = Job.objects.order_by("-attempt", "id").only(
        "id", "step_execution_id", "hostname", "status", "exit_code", "attempt", "is_canary", "error_class",
        "error_message", "started_at", "finished_at", "stop_request", "pgid", "verified_stopped_at",
    )
    steps = (
        StepExecution.objects.order_by("id")
        .annotate(job_count=Count("jobs"), live_jobs=LIVE_JOBS)
        .prefetch_related(Prefetch("jobs", queryset=jobs[:JOBS_PER_STEP], to_attr="shown_jobs"))
    )
    instance = (
        instances_list(organization=organization)
        .select_related("parent", "rerun_of")
        .prefetch_related(Prefetch("steps", queryset=steps, to_attr="step_list"))
        .filter(pk=instance_id)
        .first()
    )
    if instance is None:
        raise NotFound(f"Instance {instance_id} was not found.")
    instance.live_jobs = sum(step.live_jobs for step in instance.step_list)
    return instance


def log_tail(
    *, instance: WorkflowInstance, limit: int, step: str = "", host: str = "", stream: str = ""
) -> list[LogLine]:
    """The last `limit` lines matching the filters, oldest first."""
    lines = log_lines(instance=instance, step=step or None, host=host or None, stream=stream or None)
    return list(lines.reverse()[:limit])[::-1]


def host_candidates(*, organization: Organization, query: str, limit: int = HOST_CANDIDATES) -> list[Host]:
    """Hosts whose hostname contains `query` or whose IP starts with it (the inventory's
    own search), best matches first; one more than `limit` tells the caller there are more."""
    hosts = host_list(organization=organization).select_related(None).prefetch_related(None)
    hosts = host_search(hosts.only("id", "hostname", "primary_ip", "os", "is_enabled"), query)
    if not query.strip():
        hosts = hosts.order_by("hostname")
    return list(hosts[: limit + 1])


def hosts_by_id(*, organization: Organization, ids: list[int]) -> list[Host]:
    return list(
        host_list(organization=organization).select_related(None).prefetch_related(None)
        .filter(pk__in=storable_ids(ids))
        .only("id", "hostname", "primary_ip", "is_enabled").order_by("hostname")
    )


def definition_choices(*, organization: Organization) -> QuerySet[WorkflowDefinition]:
    """Definitions for a picker: id, name and whether they can run."""
    return (
        definition_list(organization=organization)
        .select_related(None)
        .only("id", "name", "is_active", "is_published")
        .order_by("name")
    )


def group_choices(*, organization: Organization) -> QuerySet[HostGroup]:
    """Host groups with their `host_count`, by name."""
    return (
        host_group_list(organization=organization)
        .prefetch_related(None)
        .annotate(host_count=Count("hosts"))
        .only("id", "name")
        .order_by("name")  # the GROUP BY of the Count drops Meta.ordering
    )
