"""The run page's operator controls (DESIGN §6): pause, resume, cancel, terminate, retry a
failed run, retry or skip a failed step, re-run a finished run.

Each is a POST that calls the service the API's action calls, shows what happened or the
service's refusal as a message, and redirects back to the run (post/redirect/get). They
need `workflows.execute`; another organization's run is a 404."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts.models import Organization
from apps.accounts.roles import Perm
from apps.core.errors import Conflict, InvalidInput
from apps.engine.control_forms import CancelForm, ReasonForm, RerunForm, TerminateForm
from apps.engine.controls import instance_cancel, instance_pause, instance_resume, instance_terminate
from apps.engine.models import WorkflowInstance
from apps.engine.rerun import executed_steps, instance_rerun
from apps.engine.selectors import instance_for_org
from apps.engine.states import InstanceStatus
from apps.engine.step_controls import instance_retry, step_retry, step_skip
from apps.portal.access import org_view

CANCEL_DONE = {
    InstanceStatus.CANCELING: "is canceling: no new step starts and running jobs finish",
    InstanceStatus.FORCE_CANCELING: "is force-canceling: its running jobs get SIGTERM and it ends without waiting "
                                    "for them",
    InstanceStatus.KILL_CANCELING: "is kill-canceling: its running jobs are being killed; it ends once nothing of "
                                   "them still runs",
}


def _control(
    request: HttpRequest,
    organization: Organization,
    instance_id: int,
    *,
    form: ReasonForm,
    verb: str,
    service: Callable[..., WorkflowInstance],
    done: Callable[[WorkflowInstance], str],
    step_id: str = "",
) -> HttpResponse:
    instance_for_org(instance_id=instance_id, organization_id=organization.pk)  # another org's run: 404
    back = reverse("engine:instance-detail", args=[instance_id]) + (f"#step-{step_id}" if step_id else "")
    if not form.is_valid():
        messages.error(request, f"Could not {verb} run #{instance_id}: {_errors(form)}")
        return redirect(back)
    extra = {"step_id": step_id} if step_id else {}
    try:
        instance = service(instance_id=instance_id, organization_id=organization.pk, actor=request.user,
                           **extra, **form.service_kwargs())
    except (InvalidInput, Conflict) as refusal:
        messages.error(request, f"Could not {verb} run #{instance_id}: {refusal.message}")
    else:
        messages.success(request, done(instance))
    return redirect(back)


def _errors(form: forms.Form) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


@require_POST
@org_view(Perm.WORKFLOWS_EXECUTE)
def instance_pause_view(request: HttpRequest, organization: Organization, instance_id: int) -> HttpResponse:
    def done(instance: WorkflowInstance) -> str:
        if instance.status == InstanceStatus.PAUSING:
            return f"Run #{instance.pk} is pausing: running jobs finish, then it pauses."
        return f"Run #{instance.pk} is {instance.status}."

    return _control(request, organization, instance_id, form=ReasonForm(request.POST), verb="pause",
                    service=instance_pause, done=done)


@require_POST
@org_view(Perm.WORKFLOWS_EXECUTE)
def instance_resume_view(request: HttpRequest, organization: Organization, instance_id: int) -> HttpResponse:
    return _control(request, organization, instance_id, form=ReasonForm(request.POST), verb="resume",
                    service=instance_resume, done=lambda instance: f"Run #{instance.pk} resumed.")


@require_POST
@org_view(Perm.WORKFLOWS_EXECUTE)
def instance_cancel_view(request: HttpRequest, organization: Organization, instance_id: int) -> HttpResponse:
    form = CancelForm(request.POST)

    def done(instance: WorkflowInstance) -> str:
        what = CANCEL_DONE.get(instance.status, f"is {instance.status}")
        if instance.status == InstanceStatus.CANCELING and instance.cancel_cleanup:
            what += ", then its on_cancel steps run"
        return f"Run #{instance.pk} {what}."

    return _control(request, organization, instance_id, form=form, verb="cancel", service=instance_cancel,
                    done=done)


@require_POST
@org_view(Perm.WORKFLOWS_EXECUTE)
def instance_terminate_view(request: HttpRequest, organization: Organization, instance_id: int) -> HttpResponse:
    return _control(request, organization, instance_id, form=TerminateForm(request.POST, instance_id=instance_id),
                    verb="terminate", service=instance_terminate,
                    done=lambda instance: f"Run #{instance.pk} was terminated: its jobs were killed, no cleanup ran.")


@require_POST
@org_view(Perm.WORKFLOWS_EXECUTE)
def instance_retry_view(request: HttpRequest, organization: Organization, instance_id: int) -> HttpResponse:
    return _control(request, organization, instance_id, form=ReasonForm(request.POST), verb="retry",
                    service=instance_retry, done=lambda instance: f"Run #{instance.pk} resumes at its failed step.")


@require_POST
@org_view(Perm.WORKFLOWS_EXECUTE)
def step_retry_view(request: HttpRequest, organization: Organization, instance_id: int, step_id: str) -> HttpResponse:
    return _control(request, organization, instance_id, form=ReasonForm(request.POST),
                    verb=f"retry step '{step_id}' of", service=step_retry, step_id=step_id,
                    done=lambda instance: f"Step '{step_id}' of run #{instance.pk} will run again.")


@require_POST
@org_view(Perm.WORKFLOWS_EXECUTE)
def step_skip_view(request: HttpRequest, organization: Organization, instance_id: int, step_id: str) -> HttpResponse:
    return _control(request, organization, instance_id, form=ReasonForm(request.POST),
                    verb=f"skip step '{step_id}' of", service=step_skip, step_id=step_id,
                    done=lambda instance: f"Step '{step_id}' of run #{instance.pk} was skipped; the run goes on.")


# --- Re-run: choose tasks, preview the plan (a dry run, GET), confirm (POST) ---------------
ACTION_LABELS = {
    "start": "runs again",
    "run_if_reached": "runs again if reached",
    "rejoin": "waits for its branches again",
    "reuse": "keeps its result",
}
HOSTS_SHOWN = 20


@require_http_methods(["GET", "POST"])
@org_view(Perm.WORKFLOWS_EXECUTE)
def rerun_view(request: HttpRequest, organization: Organization, instance_id: int) -> HttpResponse:
    instance = instance_for_org(instance_id=instance_id, organization_id=organization.pk)
    form = RerunForm(request.POST if request.method == "POST" else request.GET)
    if request.method == "POST":
        return _rerun(request, organization, instance, form)
    context: dict[str, Any] = {"instance": instance, "form": form, "plan": None, "error": ""}
    status = 200
    if not form.is_valid():
        context["error"], status = _errors(form), 400
    else:
        try:
            _, plan = instance_rerun(instance_id=instance.pk, organization_id=organization.pk, actor=request.user,
                                     dry_run=True, **form.service_kwargs())
        except (InvalidInput, Conflict) as refusal:
            context["error"], status = refusal.message, refusal.status_code
        else:
            context["plan"] = {**plan, "rows": _plan_rows(plan)}
    context["choices"] = executed_steps(list(instance.steps.order_by("id")))
    context["chosen"] = set(form.cleaned_data.get("tasks", [])) if form.is_valid() else set()
    context["kept"] = set(form.cleaned_data.get("no_reset_tasks", [])) if form.is_valid() else set()
    return render(request, "engine/rerun.html", context, status=status)


def _rerun(request: HttpRequest, organization: Organization, instance: WorkflowInstance, form: RerunForm) -> Any:
    back = reverse("engine:instance-rerun", args=[instance.pk])
    if not form.is_valid():
        messages.error(request, f"Run #{instance.pk} was not re-run: {_errors(form)}")
        return redirect(back)
    chosen = {"tasks": form.cleaned_data["tasks"], "no_reset_tasks": form.cleaned_data["no_reset_tasks"],
              **({"no_reset": "on"} if form.cleaned_data["no_reset"] else {})}
    query = urlencode(chosen, doseq=True)
    try:
        new, _ = instance_rerun(instance_id=instance.pk, organization_id=organization.pk, actor=request.user,
                                **form.service_kwargs())
    except (InvalidInput, Conflict) as refusal:
        messages.error(request, f"Run #{instance.pk} was not re-run: {refusal.message}")
        return redirect(f"{back}?{query}")
    if new is None:  # only a dry run answers without an instance
        raise RuntimeError("instance_rerun returned no instance")
    messages.success(request, f"Re-run #{new.pk} of run #{instance.pk} started.")
    return redirect("engine:instance-detail", instance_id=new.pk)


def _plan_rows(plan: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for entry in plan["steps"]:
        hosts = entry.get("hosts") or None
        rows.append({
            "step": entry["step"],
            "action": entry["action"],
            "label": ACTION_LABELS.get(entry["action"], entry["action"]),
            "status": entry.get("status", ""),
            "host_count": hosts["count"] if hosts else None,
            "hostnames": hosts["hostnames"][:HOSTS_SHOWN] if hosts else [],
        })
    return rows
