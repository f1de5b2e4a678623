"""What every portal page's layout needs: the organization, the switcher, the nav and the
kill switch banner."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from apps.accounts.selectors import organizations_for_user
from apps.accounts.tenancy import request_organization
from apps.automation.selectors import kill_switches_for_request
from apps.core.errors import ApplicationError
from apps.portal.nav import nav_entries


def portal(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    try:
        organization = request_organization(request)
    except ApplicationError:  # none chosen yet, or none at all: the page says so
        organization = None
    return {
        "current_organization": organization,
        "switchable_organizations": organizations_for_user(user=user).only("id", "name", "slug"),
        # Lazy too: fragments (a page's live parts) show no navigation and its badge counts.
        "nav": SimpleLazyObject(partial(nav_entries, request=request, organization=organization))
        if organization else [],
        # Lazy: one query, and only when the page shows the banner (fragments never do).
        "kill_switches": SimpleLazyObject(partial(kill_switches_for_request, request, organization))
        if organization else [],
    }
