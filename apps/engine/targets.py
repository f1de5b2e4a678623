"""Expanding a run's hosts and groups into the frozen target list (DESIGN §3)."""

from __future__ import annotations

from typing import Any

from apps.core.errors import InvalidInput
from apps.core.refs import parse_ref, storable_ids
from apps.inventory.models import Host, HostGroup


def _split(refs: list[Any]) -> tuple[set[int], set[str]]:
    ids, names = set(), set()
    for ref in refs:
        ref_id, name = parse_ref(ref)
        if ref_id is not None:
            ids.add(ref_id)
        elif name is not None:
            names.add(name)
        else:
            raise InvalidInput(f"'{ref}' is not a host or group reference.", code="invalid_reference")
    return ids, names


def host_snapshot(host: Host) -> dict[str, Any]:
    return {
        "id": host.pk,
        "hostname": host.hostname,
        "primary_ip": host.primary_ip or "",
        "os": host.os,
        "connection": host.connection,
        "port": host.port,
        "vars": host.vars or {},
        "labels": host.labels or [],
    }


def resolve_targets(*, organization: Any, hosts: list[Any], groups: list[Any]) -> list[dict[str, Any]]:
    """Hosts by id or hostname, groups by id or name, in this organization only; a reference
    that does not resolve is a 400 naming it (a foreign host looks exactly like a missing one)."""
    host_ids, hostnames = _split(hosts)
    group_ids, group_names = _split(groups)
    found = {h.pk: h for h in Host.objects.filter(organization=organization, pk__in=storable_ids(host_ids))}
    found.update({h.pk: h for h in Host.objects.filter(organization=organization, hostname__in=hostnames)})
    missing = sorted({str(i) for i in host_ids} - {str(pk) for pk in found}) + sorted(
        hostnames - {h.hostname for h in found.values()}
    )
    group_rows = list(HostGroup.objects.filter(organization=organization, pk__in=storable_ids(group_ids))) + list(
        HostGroup.objects.filter(organization=organization, name__in=group_names)
    )
    missing += sorted({str(i) for i in group_ids} - {str(g.pk) for g in group_rows})
    missing += sorted(group_names - {g.name for g in group_rows})
    if missing:
        raise InvalidInput(f"Unknown host(s) or group(s): {', '.join(missing)}.", code="unknown_target")
    for host in Host.objects.filter(groups__in=[g.pk for g in group_rows]).distinct():
        found.setdefault(host.pk, host)
    return [host_snapshot(host) for host in sorted(found.values(), key=lambda h: h.hostname)]
