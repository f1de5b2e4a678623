"""The portal's navigation: one registry of sections.

Every entry names a page that exists (a test holds the registry to that); a section
appears when the user holds its permission in the current organization. A section whose
URL name does not resolve (an app switched off) is left out rather than a dead link.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from apps.accounts.models import Organization
from apps.accounts.roles import Perm
from apps.accounts.selectors import user_has_perm


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str  # "<namespace>:<name>"; pages under the same namespace mark it current
    perm: str | None = None
    # A count shown next to the label (what waits for the user there), and what it counts.
    badge: Callable[[HttpRequest, Organization], int] | None = None
    badge_label: str = ""
    # Pages of another namespace that belong to this section ("<namespace>:<name>").
    pages: tuple[str, ...] = ()


@dataclass(frozen=True)
class NavEntry:
    label: str
    url: str
    current: bool
    badge: int = 0
    badge_label: str = ""


def _approvals_awaiting(request: HttpRequest, organization: Organization) -> int:
    from apps.approvals.selectors import approvals_awaiting_count

    return approvals_awaiting_count(user=request.user, organization=organization)


NAV: tuple[NavItem, ...] = (
    # The run page is the engine's, addressed from its definition (/workflows/<id>/run/).
    NavItem("Workflows", "workflows:definition-list", Perm.WORKFLOWS_VIEW, pages=("engine:run",)),
    NavItem("Instances", "engine:instance-list", Perm.WORKFLOWS_VIEW),
    NavItem("Approvals", "approvals:inbox", Perm.WORKFLOWS_VIEW, badge=_approvals_awaiting,
            badge_label="waiting for your answer"),
    NavItem("Automation", "automation:overview", Perm.SETTINGS_VIEW),
    NavItem("Inventory", "inventory:host-list", Perm.WORKFLOWS_VIEW),
    NavItem("Audit", "audit:event-list", Perm.SETTINGS_VIEW),
)


def nav_entries(
    *, request: HttpRequest, organization: Organization, items: tuple[NavItem, ...] = NAV
) -> list[NavEntry]:
    match = getattr(request, "resolver_match", None)
    current_namespace = match.namespace if match else ""
    view_name = match.view_name if match else ""
    owner = next((item for item in items if view_name in item.pages), None)
    entries = []
    for item in items:
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        if item.perm and not user_has_perm(user=request.user, organization=organization, perm=item.perm):
            continue
        namespace = item.url_name.rpartition(":")[0]
        current = item is owner if owner else namespace == current_namespace
        badge = item.badge(request, organization) if item.badge else 0
        entries.append(NavEntry(label=item.label, url=url, current=current, badge=badge, badge_label=item.badge_label))
    return entries
