"""The portal shell: dashboard and organization choice. Login and logout are Django's."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from apps.accounts.models import Organization
from apps.accounts.roles import Perm
from apps.accounts.selectors import organization_resolve, organizations_for_user, user_has_perm
from apps.accounts.tenancy import SESSION_KEY
from apps.core.errors import NotFound
from apps.portal.access import org_view
from apps.portal.selectors import (
    definition_counts,
    instance_counts,
    inventory_counts,
    pending_approval_count,
    recent_audit_events,
)


@org_view()
def dashboard(request: HttpRequest, organization: Organization) -> HttpResponse:
    can_see_audit = user_has_perm(user=request.user, organization=organization, perm=Perm.SETTINGS_VIEW)
    context = {
        "inventory": inventory_counts(organization=organization),
        "definitions": definition_counts(organization=organization),
        "instances": instance_counts(organization=organization),
        "pending_approvals": pending_approval_count(organization=organization),
        "recent_events": recent_audit_events(organization=organization) if can_see_audit else None,
    }
    return render(request, "portal/dashboard.html", context)


@login_required
def choose_organization(request: HttpRequest) -> HttpResponse:
    organizations = organizations_for_user(user=request.user)
    if not organizations.exists():
        return render(request, "portal/no_organization.html", status=403)
    next_url = request.GET.get("next", "")
    return render(request, "portal/choose_organization.html", {"organizations": organizations, "next": next_url})


@require_POST
@login_required
def switch_organization(request: HttpRequest) -> HttpResponse:
    """Act in another organization from now on; one the user may not see is a 404."""
    slug = request.POST.get("organization", "").strip()
    if not slug:
        messages.error(request, "Choose an organization.")
        return redirect("portal:choose-organization")
    try:
        organization = organization_resolve(user=request.user, slug=slug)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    request.session[SESSION_KEY] = organization.slug
    messages.success(request, f"You are now working in {organization.name}.")
    return redirect(_after_switch(request, request.POST.get("next", "")))


def _after_switch(request: HttpRequest, next_url: str) -> str:
    """Stay on the same kind of page, but never on one object's page (or with filters
    naming objects): those belong to the organization just left."""
    dashboard_url = reverse("portal:dashboard")
    if not next_url or not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return dashboard_url
    path = urlsplit(next_url).path
    try:
        match = resolve(path)
    except Resolver404:
        return dashboard_url
    return dashboard_url if match.kwargs else path
