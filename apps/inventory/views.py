"""Portal pages for the inventory (read-only): hosts and host groups.

The same selectors and filters as the API (`apps.inventory.api`), so search, filters and
tenancy behave the same in both; reading needs `workflows.view`, like the API.
"""

from __future__ import annotations

import json

from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from apps.accounts.models import Organization
from apps.accounts.roles import Perm
from apps.inventory.filters import HostFilter, HostGroupFilter
from apps.inventory.models import Connection
from apps.inventory.selectors import host_group_get, host_group_list, host_list, hosts_in_group
from apps.portal.access import org_view
from apps.portal.pagination import paginate


@org_view(Perm.WORKFLOWS_VIEW)
def host_list_view(request: HttpRequest, organization: Organization) -> HttpResponse:
    filterset = HostFilter(request.GET, queryset=host_list(organization=organization))
    valid = filterset.is_valid()
    context = {
        "filterset": filterset,
        "connections": Connection.choices,
        "groups": host_group_list(organization=organization).prefetch_related(None).only("id", "name"),
        **paginate(request, filterset.qs if valid else filterset.queryset.none()),
    }
    return render(request, "inventory/host_list.html", context, status=200 if valid else 400)


@org_view(Perm.WORKFLOWS_VIEW)
def host_detail_view(request: HttpRequest, organization: Organization, host_id: int) -> HttpResponse:
    host = host_list(organization=organization).filter(pk=host_id).first()
    if host is None:
        raise Http404(f"Host {host_id} was not found.")
    context = {"host": host, "vars_json": json.dumps(host.vars, indent=2, sort_keys=True) if host.vars else ""}
    return render(request, "inventory/host_detail.html", context)


@org_view(Perm.WORKFLOWS_VIEW)
def group_list_view(request: HttpRequest, organization: Organization) -> HttpResponse:
    groups = (
        host_group_list(organization=organization)
        .prefetch_related(None)
        .annotate(host_count=Count("hosts"))
        .order_by("name")  # the GROUP BY of the Count drops Meta.ordering
    )
    filterset = HostGroupFilter(request.GET, queryset=groups)
    valid = filterset.is_valid()
    context = {"filterset": filterset, **paginate(request, filterset.qs if valid else groups.none())}
    return render(request, "inventory/group_list.html", context, status=200 if valid else 400)


@org_view(Perm.WORKFLOWS_VIEW)
def group_detail_view(request: HttpRequest, organization: Organization, group_id: int) -> HttpResponse:
    group = host_group_get(organization=organization, group_id=group_id)
    hosts = hosts_in_group(host_list(organization=organization), str(group.pk))
    context = {
        "group": group,
        "vars_json": json.dumps(group.vars, indent=2, sort_keys=True) if group.vars else "",
        **paginate(request, hosts),
    }
    return render(request, "inventory/group_detail.html", context)
