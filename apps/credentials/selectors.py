"""Org-scoped reads of the vault. None of these ever decrypts: see services.credential_secret."""

from __future__ import annotations

from typing import Any

from django.db.models import BooleanField, Count, ExpressionWrapper, Q, QuerySet

from apps.accounts.models import Organization
from apps.core.errors import NotFound
from apps.core.refs import MAX_ID, parse_ref
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


def credential_for_ref(*, organization_id: int, ref: Any) -> Credential | None:
    """The organization's credential `ref` names: its id, or its name (a name made of
    digits is tried as a name when no credential has that id)."""
    credential_id, name = parse_ref(ref)
    queryset = Credential.objects.filter(organization_id=organization_id)
    if credential_id is not None:
        found = queryset.filter(pk=credential_id).first() if credential_id <= MAX_ID else None
        return found or queryset.filter(name=str(credential_id)).first()
    return queryset.filter(name=name).first() if name is not None else None
