"""The portal's Automation page: the kill switch's state, pause and resume, and its history.

Pause and Resume call the services the API's pause/ and resume/ call. Reading needs
`settings.view`; pausing and resuming `settings.manage` (the issue's permissions)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.models import Organization
from apps.accounts.roles import Perm
from apps.accounts.selectors import user_has_perm
from apps.automation.forms import PauseForm, ResumeForm
from apps.automation.models import KillSwitch
from apps.automation.selectors import kill_switch_history, kill_switches_for_request
from apps.automation.services import kill_switch_engage, kill_switch_release
from apps.core.errors import InvalidInput
from apps.engine.page_selectors import definition_choices
from apps.portal.access import org_view


@require_GET
@org_view(Perm.SETTINGS_VIEW)
def overview_view(request: HttpRequest, organization: Organization) -> HttpResponse:
    return _render(request, organization)


@require_POST
@org_view(Perm.SETTINGS_MANAGE)
def pause_view(request: HttpRequest, organization: Organization) -> HttpResponse:
    form = PauseForm(request.POST, workflows=definition_choices(organization=organization))
    if not form.is_valid():
        return _render(request, organization, form, status=400)
    try:
        switch = kill_switch_engage(organization=organization, actor=request.user, **form.engage_kwargs())
    except InvalidInput as exc:
        return _render(request, organization, form, error=exc.message, status=exc.status_code)
    messages.success(request, f"Automation is paused for {_scope_label(switch)}.")
    return redirect("automation:overview")


@require_POST
@org_view(Perm.SETTINGS_MANAGE)
def resume_view(request: HttpRequest, organization: Organization) -> HttpResponse:
    form = ResumeForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Nothing was resumed: {form.errors.as_text()}")
        return redirect("automation:overview")
    released = kill_switch_release(organization=organization, actor=request.user, **form.release_kwargs())
    if released:
        messages.success(request, f"Automation resumed for {_scope_label(released[0])}. Instances the switch "
                                  "paused stay paused until an operator resumes them.")
    else:
        messages.info(request, "Automation was not paused there: nothing to resume.")
    return redirect("automation:overview")


def _render(
    request: HttpRequest, organization: Organization, form: PauseForm | None = None, *, error: str = "",
    status: int = 200,
) -> HttpResponse:
    can_manage = user_has_perm(user=request.user, organization=organization, perm=Perm.SETTINGS_MANAGE)
    if form is None and can_manage:
        form = PauseForm(workflows=definition_choices(organization=organization))
    switches = kill_switches_for_request(request, organization)
    context = {
        "switches": switches,
        "organization_paused": any(switch.workflow_id is None for switch in switches),
        "history": kill_switch_history(organization=organization),
        "can_manage": can_manage,
        "form": form,
        "error": error,
        "default_timezone": settings.TIME_ZONE,
    }
    return render(request, "automation/overview.html", context, status=status)


def _scope_label(switch: KillSwitch) -> str:
    return f"workflow {switch.workflow.name}" if switch.workflow_id else "the whole organization"
