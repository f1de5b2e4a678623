"""Which organization a request acts in, for the API, the portal and consumers alike."""

from __future__ import annotations

from django.http import HttpRequest

from apps.accounts.models import Organization
from apps.accounts.selectors import organization_resolve
from apps.core.errors import ApplicationError

HEADER = "HTTP_X_ORGANIZATION"
SESSION_KEY = "opsflow_organization"


def request_organization(request: HttpRequest) -> Organization:
    """Resolve once per request: header first, then (portal) the session's choice."""
    cached = getattr(request, "_opsflow_organization", None)
    if cached is not None:
        return cached
    slug = request.META.get(HEADER) or None
    if slug is None and hasattr(request, "session"):
        slug = request.session.get(SESSION_KEY)
        if slug:
            try:
                organization = organization_resolve(user=request.user, slug=slug)
            except ApplicationError:  # a stale choice (membership removed): fall back to the default
                request.session.pop(SESSION_KEY, None)
                slug = None
            else:
                request._opsflow_organization = organization
                return organization
    organization = organization_resolve(user=request.user, slug=slug)
    request._opsflow_organization = organization
    return organization
