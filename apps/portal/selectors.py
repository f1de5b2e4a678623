"""Org-scoped reads for the dashboard.

Each count is one query, starting from the owning app's org-scoped selector; approvals
have none yet, so that query filters by organization here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from apps.accounts.models import Organization
from apps.approvals.models import ApprovalStatus
from apps.approvals.selectors import approvals_list
from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_events_list
from apps.credentials.selectors import credential_list
from apps.engine.selectors import instances_list
from apps.engine.states import INSTANCE_FAILED, INSTANCE_UNFINISHED, InstanceStatus
from apps.inventory.selectors import host_group_list, host_list
from apps.workflows.selectors import definition_list

RECENT_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class InstanceCounts:
    active: int
    succeeded_recently: int
    failed_recently: int


@dataclass(frozen=True)
class DefinitionCounts:
    published: int
    drafts: int


def definition_counts(*, organization: Organization) -> DefinitionCounts:
    counts = definition_list(organization=organization).aggregate(
        published=Count("pk", filter=Q(is_published=True)),
        drafts=Count("pk", filter=Q(is_published=False)),
    )
    return DefinitionCounts(**counts)


def instance_counts(*, organization: Organization, window: timedelta = RECENT_WINDOW) -> InstanceCounts:
    """Active = not finished (scheduled runs are not active yet); the others count runs
    that finished within `window`."""
    since = timezone.now() - window
    counts = instances_list(organization=organization).aggregate(
        active=Count("pk", filter=Q(status__in=INSTANCE_UNFINISHED)),
        succeeded_recently=Count("pk", filter=Q(status=InstanceStatus.SUCCEEDED, finished_at__gte=since)),
        failed_recently=Count("pk", filter=Q(status__in=INSTANCE_FAILED, finished_at__gte=since)),
    )
    return InstanceCounts(**counts)


def pending_approval_count(*, organization: Organization) -> int:
    return approvals_list(organization=organization).filter(status=ApprovalStatus.PENDING).count()


def inventory_counts(*, organization: Organization) -> dict[str, int]:
    return {
        "hosts": host_list(organization=organization).count(),
        "host_groups": host_group_list(organization=organization).count(),
        "credentials": credential_list(organization=organization).count(),
    }


def recent_audit_events(*, organization: Organization, limit: int = 10) -> QuerySet[AuditEvent]:
    return audit_events_list(organization=organization)[:limit]
