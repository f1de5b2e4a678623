"""Portal pages for the inventory: hosts and host groups (read-only), and a host's SSH
keys (scan, trust, revoke: `workflows.edit`, through the same services as the API).

The same selectors and filters as the API (`apps.inventory.api`), so search, filters and
tenancy behave the same in both; reading needs `workflows.view`, like the API.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.accounts.models import Organization
from apps.accounts.roles import Perm
from apps.accounts.selectors import user_has_perm
from apps.core.errors import ApplicationError
from apps.inventory.filters import HostFilter, HostGroupFilter
from apps.inventory.models import Connection
from apps.inventory.selectors import host_group_get, host_group_list, host_key_list, host_list, hosts_in_group
from apps.inventory.services import host_key_revoke, host_key_scan, host_key_trust
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
    context = {
        "host": host,
        "vars_json": json.dumps(host.vars, indent=2, sort_keys=True) if host.vars else "",
        "host_keys": host_key_list(organization=organization, host_id=host.pk),
        "can_edit_keys": user_has_perm(user=request.user, organization=organization, perm=Perm.WORKFLOWS_EDIT),
    }
    return render(request, "inventory/host_detail.html", context)


@require_POST
@org_view(Perm.WORKFLOWS_EDIT)
def host_key_action_view(request: HttpRequest, organization: Organization, host_id: int, action: str,
                         key_id: int | None = None) -> HttpResponse:
    try:
        if action == "scan":
            key = host_key_scan(organization=organization, host_id=host_id, actor=request.user)
            messages.success(request, f"The host offered {key.algorithm} key {key.fingerprint_sha256} ({key.state}).")
        elif action == "trust" and key_id is not None:
            key = host_key_trust(organization=organization, host_id=host_id, key_id=key_id, actor=request.user)
            messages.success(request, f"Key {key.fingerprint_sha256} is trusted.")
        elif action == "revoke" and key_id is not None:
            key = host_key_revoke(organization=organization, host_id=host_id, key_id=key_id, actor=request.user)
            messages.success(request, f"Key {key.fingerprint_sha256} is revoked.")
        else:
            raise Http404("Unknown host key action.")
    except ApplicationError as exc:
        if exc.status_code == 404:
            raise
        messages.error(request, exc.message)
    return redirect("inventory:host-detail", host_id=host_id)


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
