from datetime import date

import django_filters
from django.db.models import QuerySet

from apps.audit.models import AuditEvent
from apps.core.filters import UtcDateTimeFilter, filter_whole_days


class AuditEventFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(field_name="actor_username", help_text="Username of the actor.")
    action = django_filters.CharFilter(field_name="action")
    action_prefix = django_filters.CharFilter(field_name="action", lookup_expr="startswith")
    target_type = django_filters.CharFilter(field_name="target_type")
    target_id = django_filters.CharFilter(field_name="target_id")
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["actor", "action", "action_prefix", "target_type", "target_id", "created_after", "created_before"]


class AuditEventPageFilter(AuditEventFilter):
    """The portal's audit page: whole days (inclusive) instead of ISO timestamps."""

    date_from = django_filters.DateFilter(method="filter_date_from", label="From")
    date_to = django_filters.DateFilter(method="filter_date_to", label="To")

    def filter_date_from(self, queryset: QuerySet[AuditEvent], name: str, value: date) -> QuerySet[AuditEvent]:
        return filter_whole_days(queryset, "created_at", first=value)

    def filter_date_to(self, queryset: QuerySet[AuditEvent], name: str, value: date) -> QuerySet[AuditEvent]:
        return filter_whole_days(queryset, "created_at", last=value)
