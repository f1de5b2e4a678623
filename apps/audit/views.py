"""The portal's audit page: the organization's trail, newest first, filtered and paginated."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.accounts.models import Organization
from apps.accounts.roles import Perm
from apps.audit.filters import AuditEventPageFilter
from apps.audit.selectors import audit_events_list
from apps.portal.access import org_view
from apps.portal.pagination import paginate


@org_view(Perm.SETTINGS_VIEW)
def event_list_view(request: HttpRequest, organization: Organization) -> HttpResponse:
    events = audit_events_list(organization=organization)
    filterset = AuditEventPageFilter(request.GET, queryset=events)
    valid = filterset.is_valid()
    context = {"filterset": filterset, **paginate(request, filterset.qs if valid else events.none())}
    return render(request, "audit/event_list.html", context, status=200 if valid else 400)
