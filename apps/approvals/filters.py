import django_filters
from django.db.models import QuerySet

from apps.accounts.tenancy import request_organization
from apps.approvals.models import ApprovalRequest, ApprovalStatus
from apps.approvals.selectors import approvals_respondable
from apps.core.filters import IdFilter


class ApprovalFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ApprovalStatus.choices)
    workflow = IdFilter(field_name="instance__definition_id")
    instance = IdFilter(field_name="instance_id")
    mine = django_filters.BooleanFilter(
        method="filter_mine", help_text="true: pending requests I may answer and have not answered yet."
    )

    class Meta:
        model = ApprovalRequest
        fields = ["status", "workflow", "instance", "mine"]

    def filter_mine(self, queryset: QuerySet[ApprovalRequest], name: str, value: bool) -> QuerySet[ApprovalRequest]:
        if not value:
            return queryset
        return approvals_respondable(queryset, user=self.request.user,
                                     organization=request_organization(self.request))
