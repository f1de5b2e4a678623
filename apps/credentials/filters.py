import django_filters
from django.db.models import QuerySet

from apps.credentials.models import Credential, CredentialKind
from apps.credentials.selectors import credential_search


class CredentialFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_search", help_text="Name or username contains (any case).")
    kind = django_filters.ChoiceFilter(choices=CredentialKind.choices)

    class Meta:
        model = Credential
        fields = ["search", "kind"]

    def filter_search(self, queryset: QuerySet[Credential], name: str, value: str) -> QuerySet[Credential]:
        return credential_search(queryset, value)
