"""Org-scoped reads of the vault. None of these ever decrypts: see services.credential_secret."""

from __future__ import annotations

from django.db.models import BooleanField, Count, ExpressionWrapper, Q, QuerySet

from apps.accounts.models import Organization
from apps.core.errors import NotFound
from apps.credentials.models import Credential


def credential_list(*, organization: Organization) -> QuerySet[Credential]:
    return (
        Credential.objects.filter(organization=organization)
        .select_related("created_by")
        .annotate(
            host_count=Count("hosts"),
            has_secret=ExpressionWrapper(~Q(secret_encrypted=""), output_field=BooleanField()),
        )
        .defer("secret_encrypted")
        .order_by("name")  # Meta.ordering is dropped by the GROUP BY of the Count
    )


def credential_search(queryset: QuerySet[Credential], query: str) -> QuerySet[Credential]:
    query = query.strip()
    if not query:
        return queryset
    return queryset.filter(Q(name__icontains=query) | Q(username__icontains=query))


def credential_get(*, organization: Organization, credential_id: int, for_update: bool = False) -> Credential:
    queryset = Credential.objects.filter(organization=organization)
    if for_update:
        queryset = queryset.select_for_update()
    credential = queryset.filter(pk=credential_id).first()
    if credential is None:
        raise NotFound(f"Credential {credential_id} was not found.")
    return credential


def credential_is_used(*, credential: Credential) -> bool:
    return credential.hosts.exists()
