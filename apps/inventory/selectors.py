"""Org-scoped reads of the inventory, host search, and the resolution of references
(ids or names) that writes and run requests accept."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from django.db.models import BooleanField, Case, Exists, IntegerField, OuterRef, Prefetch, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower

from apps.accounts.models import Organization
from apps.core.errors import InvalidInput, NotFound
from apps.core.refs import storable_ids
from apps.inventory.models import Host, HostGroup, HostKey, HostKeyState

Ref = int | str


def host_list(*, organization: Organization) -> QuerySet[Host]:
    return (
        Host.objects.filter(organization=organization)
        .select_related("credential")
        .defer("credential__secret_encrypted")
        .prefetch_related(Prefetch("groups", queryset=HostGroup.objects.only("id", "name")))
    )


def host_get(*, organization: Organization, host_id: int, for_update: bool = False) -> Host:
    queryset = Host.objects.filter(organization=organization)
    host = (queryset.select_for_update() if for_update else queryset).filter(pk=host_id).first()
    if host is None:
        raise NotFound(f"Host {host_id} was not found.")
    return host


def host_search(queryset: QuerySet[Host], query: str) -> QuerySet[Host]:
    """Hostname contains `query` (any case) or the primary IP starts with it; hostname
    prefix matches first, then IP prefix matches, then the rest, each by hostname.

    Served by the trigram and pattern-ops indexes of migration 0002 on Postgres."""
    query = query.strip()
    if not query:
        return queryset
    needle = query.lower()
    return (
        queryset.alias(hostname_lower=Lower("hostname"))
        .filter(Q(hostname_lower__contains=needle) | Q(primary_ip__startswith=query))
        .annotate(
            search_rank=Case(
                When(hostname_lower__startswith=needle, then=Value(0)),
                When(primary_ip__startswith=query, then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            )
        )
        .order_by("search_rank", "hostname")
    )


def hosts_with_label(queryset: QuerySet[Host], label: str) -> QuerySet[Host]:
    if connection.vendor == "postgresql":
        return queryset.filter(labels__contains=[label])  # jsonb @>, GIN-indexed (0002)
    # SQLite's JSON has no containment operator.
    has_label = RawSQL(  # constant SQL; the label is a bound parameter
        "EXISTS (SELECT 1 FROM json_each(inventory_host.labels) WHERE json_each.value = %s)",
        [label],
        output_field=BooleanField(),
    )
    return queryset.alias(has_label=has_label).filter(has_label=True)


def hosts_in_group(queryset: QuerySet[Host], group: str) -> QuerySet[Host]:
    """`group` is a group id or name."""
    match = Q(hostgroup__name=group)
    if group.isdigit():
        match |= Q(hostgroup_id=int(group))
    membership = Host.groups.through.objects.filter(match, host_id=OuterRef("pk"))
    return queryset.filter(Exists(membership))


def host_hostname_taken(*, organization_id: int, hostname: str, exclude_pk: int | None = None) -> bool:
    # lower(hostname), like the unique index, so that this check is an index lookup.
    queryset = Host.objects.alias(hostname_lower=Lower("hostname")).filter(
        organization_id=organization_id, hostname_lower=hostname.lower()
    )
    return queryset.exclude(pk=exclude_pk).exists() if exclude_pk else queryset.exists()


def host_group_list(*, organization: Organization) -> QuerySet[HostGroup]:
    return HostGroup.objects.filter(organization=organization).prefetch_related(
        Prefetch("hosts", queryset=Host.objects.only("id", "hostname"))
    )


def host_group_get(*, organization: Organization, group_id: int, for_update: bool = False) -> HostGroup:
    queryset = HostGroup.objects.filter(organization=organization)
    group = (queryset.select_for_update() if for_update else queryset).filter(pk=group_id).first()
    if group is None:
        raise NotFound(f"Host group {group_id} was not found.")
    return group


def host_group_search(queryset: QuerySet[HostGroup], query: str) -> QuerySet[HostGroup]:
    query = query.strip()
    return queryset.filter(name__icontains=query) if query else queryset


def groups_containing_host(queryset: QuerySet[HostGroup], host: str) -> QuerySet[HostGroup]:
    """`host` is a host id or hostname."""
    match = Q(host__hostname__iexact=host)
    if host.isdigit():
        match |= Q(host_id=int(host))
    membership = Host.groups.through.objects.filter(match, hostgroup_id=OuterRef("pk"))
    return queryset.filter(Exists(membership))


def host_groups_resolve(*, organization: Organization, refs: Iterable[Ref]) -> list[HostGroup]:
    """Groups by id or name in this organization; an unknown (or foreign) one is a 400."""
    ids, names = _split(refs)
    found = list(HostGroup.objects.filter(Q(pk__in=storable_ids(ids)) | Q(name__in=names), organization=organization))
    missing = [str(i) for i in ids if i not in {g.pk for g in found}]
    missing += [n for n in names if n not in {g.name for g in found}]
    if missing:
        raise _unknown("groups", "host group", missing)
    return found


def hosts_resolve(*, organization: Organization, refs: Iterable[Ref], for_update: bool = False) -> list[Host]:
    """Hosts by id or hostname (any case) in this organization, locked in pk order if asked."""
    ids, names = _split(refs)
    lowered = {name.lower() for name in names}
    queryset = Host.objects.alias(hostname_lower=Lower("hostname")).filter(
        Q(pk__in=storable_ids(ids)) | Q(hostname_lower__in=lowered), organization=organization
    )
    if for_update:
        queryset = queryset.select_for_update().order_by("pk")
    found = list(queryset)
    missing = [str(i) for i in ids if i not in {h.pk for h in found}]
    missing += [n for n in names if n.lower() not in {h.hostname.lower() for h in found}]
    if missing:
        raise _unknown("hosts", "host", missing)
    return found


def _split(refs: Iterable[Ref]) -> tuple[list[int], list[str]]:
    ids: list[int] = []
    names: list[str] = []
    for ref in refs:
        if isinstance(ref, int) and not isinstance(ref, bool):
            ids.append(ref)
        elif isinstance(ref, str) and ref.strip():
            names.append(ref.strip())
        else:
            raise InvalidInput(f"'{ref}' is neither an id nor a name.", code="invalid_reference")
    return ids, names


def _unknown(field: str, noun: str, missing: list[str]) -> InvalidInput:
    message = f"Unknown {noun}(s) in this organization: {', '.join(missing[:20])}."
    return InvalidInput(message, code="unknown_reference", extra={"errors": {field: [message]}})


def host_key_list(*, organization: Organization, host_id: int) -> QuerySet[HostKey]:
    """A host's keys; an unknown or foreign host is a 404."""
    host = host_get(organization=organization, host_id=host_id)
    return HostKey.objects.filter(host=host).select_related("trusted_by").order_by("id")


def host_key_get(*, organization: Organization, host_id: int, key_id: int, for_update: bool = False) -> HostKey:
    queryset = HostKey.objects.filter(organization=organization, host_id=host_id)
    key = (queryset.select_for_update() if for_update else queryset).filter(pk=key_id).first()
    if key is None:
        raise NotFound(f"Host key {key_id} was not found on host {host_id}.")
    return key


def host_keys_trusted(*, host_id: int) -> list[HostKey]:
    return list(HostKey.objects.filter(host_id=host_id, state=HostKeyState.TRUSTED).order_by("id"))
