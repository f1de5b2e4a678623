import django_filters
from django.db.models import QuerySet

from apps.core.filters import IdFilter
from apps.inventory.models import Connection, Host, HostGroup
from apps.inventory.selectors import (
    groups_containing_host,
    host_group_search,
    host_search,
    hosts_in_group,
    hosts_with_label,
)


class HostFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(
        method="filter_search",
        help_text="Hostname contains the text (any case) or the primary IP starts with it; "
        "hostname prefix matches come first unless `ordering` is given.",
    )
    connection = django_filters.ChoiceFilter(choices=Connection.choices)
    os = django_filters.CharFilter(field_name="os", lookup_expr="iexact")
    label = django_filters.CharFilter(method="filter_label", help_text="Hosts that carry this label.")
    group = django_filters.CharFilter(method="filter_group", help_text="Hosts in this group (id or name).")
    credential = IdFilter(field_name="credential_id", help_text="Hosts using this credential id.")
    is_enabled = django_filters.BooleanFilter()

    class Meta:
        model = Host
        fields = ["search", "connection", "os", "label", "group", "credential", "is_enabled"]

    def filter_search(self, queryset: QuerySet[Host], name: str, value: str) -> QuerySet[Host]:
        return host_search(queryset, value)

    def filter_label(self, queryset: QuerySet[Host], name: str, value: str) -> QuerySet[Host]:
        return hosts_with_label(queryset, value.strip())

    def filter_group(self, queryset: QuerySet[Host], name: str, value: str) -> QuerySet[Host]:
        return hosts_in_group(queryset, value.strip())


class HostGroupFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_search", help_text="Name contains the text (any case).")
    host = django_filters.CharFilter(method="filter_host", help_text="Groups containing this host (id or hostname).")

    class Meta:
        model = HostGroup
        fields = ["search", "host"]

    def filter_search(self, queryset: QuerySet[HostGroup], name: str, value: str) -> QuerySet[HostGroup]:
        return host_group_search(queryset, value)

    def filter_host(self, queryset: QuerySet[HostGroup], name: str, value: str) -> QuerySet[HostGroup]:
        return groups_containing_host(queryset, value.strip())
