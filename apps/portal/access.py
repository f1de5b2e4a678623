"""How a portal page finds its organization and checks the role's permission.

Portal pages use the same tenancy mechanism as the API (`request_organization`: the
`X-Organization` header, then the session's choice, then the user's only organization)
and the same selectors, so a foreign object is simply not found: 404, never 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from apps.accounts.selectors import organizations_for_user, user_has_perm
from apps.accounts.tenancy import request_organization
from apps.core.errors import ApplicationError, NotFound, OrganizationRequired, PermissionDenied

OrgView = Callable[..., HttpResponse]


def org_view(perm: str | None = None) -> Callable[[OrgView], OrgView]:
    """Decorate `view(request, organization, **kwargs)`: login, organization, permission.

    `perm` None means membership of the organization is enough."""

    def decorator(view: OrgView) -> OrgView:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                organization = request_organization(request)
            except OrganizationRequired:
                return organization_needed(request)
            except NotFound as exc:
                raise Http404(exc.message) from exc
            if perm and not user_has_perm(user=request.user, organization=organization, perm=perm):
                raise DjangoPermissionDenied(f"This page needs the '{perm}' permission in {organization.name}.")
            try:
                return view(request, organization, *args, **kwargs)
            except NotFound as exc:
                raise Http404(exc.message) from exc
            except PermissionDenied as exc:
                raise DjangoPermissionDenied(exc.message) from exc
            except ApplicationError as exc:
                return render(request, "portal/error.html", {"error": exc}, status=exc.status_code)

        return login_required(wrapper)

    return decorator


def organization_needed(request: HttpRequest) -> HttpResponse:
    """No organization could be chosen: say why (no membership), or let the user pick one."""
    if not organizations_for_user(user=request.user).exists():
        return render(request, "portal/no_organization.html", status=403)
    query = urlencode({"next": request.get_full_path()})
    return redirect(f"{reverse('portal:choose-organization')}?{query}")


def back_to(request: HttpRequest, default: str) -> str:
    """The form's `next` when it is a page of this site (back to the list's search and
    page), else `default`: never a redirect elsewhere."""
    next_url = request.POST.get("next", "")
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return next_url
    return default
