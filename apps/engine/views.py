"""Portal pages for running workflows and watching runs (issue #4 item 11).

Run page -> `instance_start` (the service the API's run/ action calls); the list and the
detail page read through org-scoped selectors, so another organization's instance or
definition is a 404. Reading needs `workflows.view`; the Run page `workflows.execute`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from apps.accounts.models import Organization
from apps.accounts.roles import Perm
from apps.accounts.selectors import user_has_perm
from apps.core.errors import Conflict, InvalidInput
from apps.engine.context import redacted_variables, sensitive_names
from apps.engine.forms import LogFilterForm, RunForm
from apps.engine.models import Trigger, WorkflowInstance
from apps.engine.page_controls import history_rows, run_controls
from apps.engine.page_filters import ENDED_RANGES, RANGES, STATUS_GROUPS, InstancePageFilter
from apps.engine.page_selectors import (
    HOST_CANDIDATES,
    definition_choices,
    group_choices,
    host_candidates,
    hosts_by_id,
    instance_page_get,
    instance_rows,
    log_tail,
)
from apps.engine.progress import progress_graph
from apps.engine.services import instance_start
from apps.engine.states import INSTANCE_TERMINAL, InstanceStatus
from apps.portal.access import org_view
from apps.portal.pagination import paginate
from apps.workflows.models import WorkflowDefinition
from apps.workflows.selectors import definition_get

# --- Instances list -------------------------------------------------------------------


@org_view(Perm.WORKFLOWS_VIEW)
def instance_list_view(request: HttpRequest, organization: Organization) -> HttpResponse:
    instances = instance_rows(organization=organization)
    filterset = InstancePageFilter(request.GET, queryset=instances)
    valid = filterset.is_valid()
    context = {
        "filterset": filterset,
        "statuses": InstanceStatus.choices,
        "triggers": Trigger.choices,
        "workflows": definition_choices(organization=organization),
        "ranges": [(key, label) for key, (label, _) in RANGES.items()],
        "ended_ranges": [(key, label) for key, (label, _) in ENDED_RANGES.items()],
        "status_groups": [(key, label) for key, (label, _) in STATUS_GROUPS.items()],
        "status_choice": request.GET.get("status", ""),
        "can_run": _can_run(request, organization),
        **paginate(request, filterset.qs if valid else instances.none()),
    }
    return render(request, "engine/instance_list.html", context, status=200 if valid else 400)


def _can_run(request: HttpRequest, organization: Organization) -> bool:
    return user_has_perm(user=request.user, organization=organization, perm=Perm.WORKFLOWS_EXECUTE)


# --- Instance detail ------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """One part of the detail page. `live` parts are re-rendered by the page's poll while
    the instance is active; later issues (controls, live log) add their own here."""

    slug: str
    label: str
    template: str
    live: bool = False
    side: bool = False  # beside the others on a wide screen, below them on a narrow one


DETAIL_SECTIONS: tuple[Section, ...] = (
    Section("progress", "Progress", "engine/detail/_progress.html", live=True),
    Section("timeline", "Timeline", "engine/detail/_timeline.html", live=True),
    Section("outputs", "Outputs", "engine/detail/_outputs.html", live=True),
    Section("variables", "Variables", "engine/detail/_variables.html"),
    Section("history", "History", "engine/detail/_history.html"),
    Section("log", "Log", "engine/detail/_log.html", side=True),
)


@org_view(Perm.WORKFLOWS_VIEW)
def instance_detail_view(request: HttpRequest, organization: Organization, instance_id: int) -> HttpResponse:
    instance = instance_page_get(organization=organization, instance_id=instance_id)
    log_form = LogFilterForm(request.GET)
    log_filters = log_form.filters()
    can_run = _can_run(request, organization)
    context = {
        **_instance_context(instance),
        **run_controls(instance=instance, user=request.user, organization=organization, can_execute=can_run),
        "sections": DETAIL_SECTIONS,
        "can_run": can_run,
        "variables": variable_rows(instance),
        "history": history_rows(instance),
        "log_form": log_form,
        "log_filters": log_filters,
        "log_filtered": any(log_filters[key] for key in ("step", "host", "stream")),
        "log_limit": log_filters["limit"],
        "log_lines": log_tail(instance=instance, **log_filters),
        "log_hosts": [target["hostname"] for target in instance.targets[:500]],
    }
    return render(request, "engine/instance_detail.html", context, status=200 if log_form.is_valid() else 400)


@require_GET
@org_view(Perm.WORKFLOWS_VIEW)
def instance_live_view(request: HttpRequest, organization: Organization, instance_id: int) -> HttpResponse:
    """The live parts of the detail page (header, progress, timeline, outputs), for its 2 s poll."""
    instance = instance_page_get(organization=organization, instance_id=instance_id)
    can_run = _can_run(request, organization)
    context = {
        **_instance_context(instance),
        **run_controls(instance=instance, user=request.user, organization=organization, can_execute=can_run),
        "sections": [section for section in DETAIL_SECTIONS if section.live],
        "can_run": can_run,
    }
    response = render(request, "engine/detail/_live.html", context)
    response["Cache-Control"] = "no-store"
    return response


def _instance_context(instance: WorkflowInstance) -> dict[str, Any]:
    steps = instance.step_list
    executed = {step.step_id for step in steps}
    planned = [spec.get("id") for spec in instance.snapshot.get("steps", []) if isinstance(spec, dict)]
    active = instance.status not in INSTANCE_TERMINAL
    return {
        "instance": instance,
        "steps": steps,
        "not_reached": [step_id for step_id in planned if step_id and step_id not in executed],
        "outputs": [step for step in steps if step.output is not None],
        "active": active,
        "running": active and instance.started_at is not None,
        "has_children": any(step.step_type == "workflow" for step in steps),
        "progress": progress_graph(instance, steps, active=active),
    }


def variable_rows(instance: WorkflowInstance) -> list[dict[str, Any]]:
    """The instance's variables; sensitive ones (declared so in its snapshot) as `***`,
    like the API (`InstanceOutput.get_variables`)."""
    sensitive = sensitive_names(instance.snapshot)
    values = redacted_variables(instance)
    return [
        {"name": name, "value": value, "sensitive": name in sensitive, "text": isinstance(value, str)}
        for name, value in sorted(values.items())
    ]


# --- Run ----------------------------------------------------------------------------


@require_GET
@org_view(Perm.WORKFLOWS_EXECUTE)
def run_choose_view(request: HttpRequest, organization: Organization) -> HttpResponse:
    """Pick a workflow to run (until the workflows pages link their Run buttons here)."""
    workflow = request.GET.get("workflow", "")
    if workflow:
        definition = definition_get(organization=organization, definition_id=workflow)
        return redirect("engine:run", definition_id=definition.pk)
    return render(request, "engine/run_choose.html", {"definitions": definition_choices(organization=organization)})


@require_http_methods(["GET", "POST"])
@org_view(Perm.WORKFLOWS_EXECUTE)
def run_view(request: HttpRequest, organization: Organization, definition_id: int) -> HttpResponse:
    definition = definition_get(organization=organization, definition_id=definition_id)
    form = RunForm(request.POST if request.method == "POST" else None, variables=definition.variables)
    if not form.is_bound:
        return _render_run(request, organization, definition, form)
    if not form.is_valid():
        return _render_run(request, organization, definition, form, status=400)
    try:
        instance = instance_start(
            definition=definition, actor=request.user, trigger=Trigger.MANUAL, **form.start_kwargs()
        )
    except (InvalidInput, Conflict) as exc:
        return _render_run(request, organization, definition, form, error=exc.message, status=exc.status_code)
    if instance.status == InstanceStatus.SCHEDULED:
        when = timezone.localtime(instance.scheduled_for)
        messages.success(request, f"Run #{instance.pk} is scheduled for {when:%Y-%m-%d %H:%M} ({when.tzname()}).")
    else:
        messages.success(request, f"Run #{instance.pk} of {definition.name} started.")
    return redirect("engine:instance-detail", instance_id=instance.pk)


def _render_run(
    request: HttpRequest,
    organization: Organization,
    definition: WorkflowDefinition,
    form: RunForm,
    *,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    chosen_ids = [ref for ref in form.hosts() if isinstance(ref, int)]
    context = {
        "definition": definition,
        "form": form,
        "error": error,
        "groups": group_choices(organization=organization),
        "chosen_groups": set(form.groups()),
        "chosen_hosts": hosts_by_id(organization=organization, ids=chosen_ids) if chosen_ids else [],
        **_candidates(request, organization),
        "search_url": reverse("engine:run-hosts"),
        "default_timezone": settings.TIME_ZONE,
    }
    return render(request, "engine/run.html", context, status=status)


@require_GET
@org_view(Perm.WORKFLOWS_EXECUTE)
def run_hosts_view(request: HttpRequest, organization: Organization) -> HttpResponse:
    """Host candidates for the Run page's picker (an HTML fragment): hostname contains
    the text or the IP starts with it, the inventory's own server-side search."""
    response = render(request, "engine/run/_host_results.html", _candidates(request, organization))
    response["Cache-Control"] = "no-store"
    return response


def _candidates(request: HttpRequest, organization: Organization) -> dict[str, Any]:
    query = request.GET.get("q", "")[:255]
    candidates = host_candidates(organization=organization, query=query)
    return {
        "query": query,
        "candidates": candidates[:HOST_CANDIDATES],
        "more_candidates": len(candidates) > HOST_CANDIDATES,
    }
