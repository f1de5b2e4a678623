import django_filters

from apps.core.filters import IdFilter, UtcDateTimeFilter
from apps.engine.models import Trigger, WorkflowInstance
from apps.engine.states import InstanceStatus


class InstanceFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=InstanceStatus.choices)
    workflow = IdFilter(field_name="definition_id")
    workflow_name = django_filters.CharFilter(field_name="workflow_name", lookup_expr="icontains")
    trigger = django_filters.MultipleChoiceFilter(choices=Trigger.choices)
    triggered_by = django_filters.CharFilter(field_name="triggered_by__username")
    parent = IdFilter(field_name="parent_id")
    started_after = UtcDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = UtcDateTimeFilter(field_name="started_at", lookup_expr="lt")
    finished_after = UtcDateTimeFilter(field_name="finished_at", lookup_expr="gte")
    finished_before = UtcDateTimeFilter(field_name="finished_at", lookup_expr="lt")
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = WorkflowInstance
        fields = ["status", "workflow", "trigger", "triggered_by", "parent"]
