import django_filters
from django.db.models import QuerySet

from apps.workflows.models import TriggerType, WorkflowDefinition
from apps.workflows.selectors import definition_search


class WorkflowDefinitionFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_search", help_text="Name or description contains the text (any case).")
    search = django_filters.CharFilter(method="filter_search", help_text="The same as `q`.")
    is_published = django_filters.BooleanFilter()
    is_active = django_filters.BooleanFilter()
    is_template = django_filters.BooleanFilter()
    trigger_type = django_filters.ChoiceFilter(choices=TriggerType.choices)

    class Meta:
        model = WorkflowDefinition
        fields = ["q", "search", "is_published", "is_active", "is_template", "trigger_type"]

    def filter_search(
        self, queryset: QuerySet[WorkflowDefinition], name: str, value: str
    ) -> QuerySet[WorkflowDefinition]:
        return definition_search(queryset, value)
