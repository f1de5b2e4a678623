from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.automation.models import KillSwitch


def kill_switches_engaged(*, organization_id: int) -> QuerySet[KillSwitch]:
    now = timezone.now()
    return KillSwitch.objects.filter(organization_id=organization_id, released_at__isnull=True).filter(
        Q(until__isnull=True) | Q(until__gt=now)
    )


def kill_switch_engaged(*, organization_id: int, definition_id: int | None = None) -> bool:
    """True when automation is halted for the organization, or for this workflow."""
    scope = Q(workflow__isnull=True)
    if definition_id is not None:
        scope |= Q(workflow_id=definition_id)
    return kill_switches_engaged(organization_id=organization_id).filter(scope).exists()
