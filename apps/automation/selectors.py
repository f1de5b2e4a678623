from __future__ import annotations

from datetime import datetime

from django.db.models import F, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from apps.accounts.models import Organization
from apps.automation.models import KillSwitch

HISTORY_LENGTH = 20


def kill_switches_engaged(*, organization_id: int) -> QuerySet[KillSwitch]:
    now = timezone.now()
    return KillSwitch.objects.filter(organization_id=organization_id, released_at__isnull=True).filter(
        Q(until__isnull=True) | Q(until__gt=now)
    )


def kill_switch_engaged(
    *, organization_id: int, definition_id: int | None = None, since: datetime | None = None
) -> bool:
    """True when automation is halted for the organization, or for this workflow.

    `since`: count only engagements made after that moment. A run asked for while the
    switch was already on is a manual run the switch does not stop (DESIGN §6); only a
    later engagement does."""
    scope = Q(workflow__isnull=True)
    if definition_id is not None:
        scope |= Q(workflow_id=definition_id)
    engaged = kill_switches_engaged(organization_id=organization_id).filter(scope)
    if since is not None:
        engaged = engaged.filter(created_at__gt=since)
    return engaged.exists()


def kill_switches_active(*, organization: Organization) -> QuerySet[KillSwitch]:
    """The engaged switches as pages and the API show them: organization-wide first."""
    return (
        kill_switches_engaged(organization_id=organization.pk)
        .select_related("workflow", "engaged_by")
        .order_by(F("workflow_id").asc(nulls_first=True), "-created_at", "-id")
    )


def kill_switch_history(*, organization: Organization, limit: int = HISTORY_LENGTH) -> QuerySet[KillSwitch]:
    """The latest engagements, each with its release (if any), newest first."""
    return KillSwitch.objects.filter(organization=organization).select_related(
        "workflow", "engaged_by", "released_by"
    ).order_by("-created_at", "-id")[:limit]


def kill_switches_for_request(request: HttpRequest, organization: Organization) -> list[KillSwitch]:
    """`kill_switches_active` read once per request: the layout's banner and the page share it."""
    cached = getattr(request, "_opsflow_kill_switches", None)
    if cached is None or cached[0] != organization.pk:
        cached = (organization.pk, list(kill_switches_active(organization=organization)))
        request._opsflow_kill_switches = cached  # type: ignore[attr-defined]
    return cached[1]
