from django.db.models import QuerySet

from apps.accounts.models import Organization
from apps.audit.models import AuditEvent


def audit_events_list(*, organization: Organization) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(organization=organization).select_related("actor")
