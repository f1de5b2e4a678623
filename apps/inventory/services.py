"""Every write to the inventory, each in one transaction with its audit event.

Lock order: a host row before the credential it points to; a group row before its member
hosts (in pk order). Host writes never lock groups, credential writes never lock hosts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from apps.accounts.models import Organization
from apps.audit.services import audit_record
from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.credentials.models import Credential
from apps.credentials.selectors import credential_get
from apps.inventory.models import DEFAULT_PORTS, Connection, Host, HostGroup, HostKey, HostKeyPolicy, HostKeyState
from apps.inventory.selectors import (
    Ref,
    host_get,
    host_group_get,
    host_groups_resolve,
    host_hostname_taken,
    host_key_get,
    hosts_resolve,
)
from apps.inventory.ssh_keys import OfferedKey, scan_host_key, ssh_address
from apps.inventory.validators import normalize_labels, validate_labels, validate_vars

HOST_FIELDS = (
    "hostname", "primary_ip", "os", "connection", "port", "vars", "labels", "is_enabled",
    "username", "become", "host_key_policy",
)
GROUP_FIELDS = ("name", "description", "vars")
_UNSET: Any = object()


@transaction.atomic
def host_create(
    *,
    organization: Organization,
    actor: AbstractBaseUser | None,
    hostname: str,
    credential: int | Credential | None = None,
    groups: Iterable[Ref] = (),
    **fields: Any,
) -> Host:
    _reject_unknown(fields, HOST_FIELDS)
    host = Host(organization=organization, hostname=hostname, **fields)
    host.credential = _credential_for_host(organization, credential)
    _prepare_host(host)
    _save(host)
    host.groups.set(host_groups_resolve(organization=organization, refs=groups))
    audit_record(actor=actor, action="host.create", target=host, data=_host_audit(host))
    return host


@transaction.atomic
def host_update(
    *,
    organization: Organization,
    host_id: int,
    actor: AbstractBaseUser | None,
    credential: int | Credential | None = _UNSET,
    groups: Iterable[Ref] | None = None,
    **changes: Any,
) -> Host:
    """Change the given fields only (PATCH semantics; PUT passes every field)."""
    _reject_unknown(changes, HOST_FIELDS)
    host = host_get(organization=organization, host_id=host_id, for_update=True)
    before, old_vars = _host_audit(host), host.vars
    for field, value in changes.items():
        setattr(host, field, value)
    if credential is not _UNSET:
        host.credential = _credential_for_host(organization, credential)
    _prepare_host(host)
    _save(host)
    if groups is not None:
        host.groups.set(host_groups_resolve(organization=organization, refs=groups))
    changed = _changed(before, _host_audit(host), vars_changed=host.vars != old_vars)
    audit_record(actor=actor, action="host.update", target=host, data={"hostname": host.hostname, "changed": changed})
    return host


@transaction.atomic
def host_delete(*, organization: Organization, host_id: int, actor: AbstractBaseUser | None) -> None:
    host = host_get(organization=organization, host_id=host_id, for_update=True)
    audit_record(actor=actor, action="host.delete", target=host, data=_host_audit(host))
    host.delete()


@transaction.atomic
def host_group_create(
    *,
    organization: Organization,
    actor: AbstractBaseUser | None,
    name: str,
    hosts: Iterable[Ref] = (),
    **fields: Any,
) -> HostGroup:
    _reject_unknown(fields, GROUP_FIELDS)
    group = HostGroup(organization=organization, name=name, **fields)
    _prepare_group(group)
    _save(group)
    group.hosts.set(hosts_resolve(organization=organization, refs=hosts, for_update=True))
    audit_record(actor=actor, action="host_group.create", target=group, data=_group_audit(group))
    return group


@transaction.atomic
def host_group_update(
    *,
    organization: Organization,
    group_id: int,
    actor: AbstractBaseUser | None,
    hosts: Iterable[Ref] | None = None,
    **changes: Any,
) -> HostGroup:
    _reject_unknown(changes, GROUP_FIELDS)
    group = host_group_get(organization=organization, group_id=group_id, for_update=True)
    before, old_vars = _group_audit(group), group.vars
    for field, value in changes.items():
        setattr(group, field, value)
    _prepare_group(group)
    _save(group)
    if hosts is not None:
        group.hosts.set(hosts_resolve(organization=organization, refs=hosts, for_update=True))
    changed = _changed(before, _group_audit(group), vars_changed=group.vars != old_vars)
    audit_record(actor=actor, action="host_group.update", target=group, data={"name": group.name, "changed": changed})
    return group


@transaction.atomic
def host_group_delete(*, organization: Organization, group_id: int, actor: AbstractBaseUser | None) -> None:
    group = host_group_get(organization=organization, group_id=group_id, for_update=True)
    audit_record(actor=actor, action="host_group.delete", target=group, data=_group_audit(group))
    group.delete()


def host_key_scan(*, organization: Organization, host_id: int, actor: AbstractBaseUser | None) -> HostKey:
    """Connect to the host and record the key it offers (pending unless already known).
    The connection is made outside any transaction: no row stays locked while we wait."""
    host = host_get(organization=organization, host_id=host_id)
    if host.connection != Connection.SSH:
        raise Conflict(f"Host '{host.hostname}' is not reached over SSH.", code="not_ssh")
    offered = scan_host_key(ssh_address(host), host.port or DEFAULT_PORTS[Connection.SSH])
    return host_key_record(host_id=host.pk, offered=offered, actor=actor)


@transaction.atomic
def host_key_record(*, host_id: int, offered: OfferedKey, actor: AbstractBaseUser | None = None) -> HostKey:
    """A key the host offered, as `pending` when first seen; a known key keeps its state."""
    host = Host.objects.select_for_update().get(pk=host_id)
    key, created = HostKey.objects.get_or_create(
        host=host, fingerprint_sha256=offered.fingerprint_sha256,
        defaults={"organization_id": host.organization_id, "algorithm": offered.algorithm,
                  "public_key": offered.public_key},
    )
    if created:
        audit_record(actor=actor, action="host_key.seen", target=key, data=_key_audit(key))
    return key


@transaction.atomic
def host_key_accept_new(*, host_id: int, offered: OfferedKey) -> HostKey | None:
    """`accept_new` (like OpenSSH's accept-new): trust the offered key if the host trusts
    no key yet and this one was never revoked; None otherwise (the caller fails closed)."""
    host = Host.objects.select_for_update().get(pk=host_id)
    if host.host_key_policy != HostKeyPolicy.ACCEPT_NEW or host.host_keys.filter(state=HostKeyState.TRUSTED).exists():
        return None
    key = host_key_record(host_id=host_id, offered=offered)
    if key.state == HostKeyState.REVOKED:
        return None
    key.state, key.trusted_at, key.trusted_by = HostKeyState.TRUSTED, timezone.now(), None
    key.save(update_fields=["state", "trusted_at", "trusted_by", "updated_at"])
    audit_record(actor=None, action="host_key.accept_new", target=key, data=_key_audit(key))
    return key


@transaction.atomic
def host_key_trust(*, organization: Organization, host_id: int, key_id: int, actor: AbstractBaseUser | None) -> HostKey:
    return _host_key_set(organization, host_id, key_id, actor, HostKeyState.TRUSTED)


@transaction.atomic
def host_key_revoke(
    *, organization: Organization, host_id: int, key_id: int, actor: AbstractBaseUser | None
) -> HostKey:
    return _host_key_set(organization, host_id, key_id, actor, HostKeyState.REVOKED)


def _host_key_set(organization: Organization, host_id: int, key_id: int, actor: AbstractBaseUser | None,
                  state: HostKeyState) -> HostKey:
    host_get(organization=organization, host_id=host_id, for_update=True)  # host before its keys
    key = host_key_get(organization=organization, host_id=host_id, key_id=key_id, for_update=True)
    if key.state == state:
        return key  # a repeated click changes nothing and writes no second event
    key.state = state
    if state == HostKeyState.TRUSTED:
        key.trusted_by, key.trusted_at = actor, timezone.now()
    key.save(update_fields=["state", "trusted_by", "trusted_at", "updated_at"])
    action = "host_key.trust" if state == HostKeyState.TRUSTED else "host_key.revoke"
    audit_record(actor=actor, action=action, target=key, data=_key_audit(key))
    return key


def _key_audit(key: HostKey) -> dict[str, Any]:
    return {"host": key.host_id, "algorithm": key.algorithm, "fingerprint_sha256": key.fingerprint_sha256,
            "state": key.state}


def _credential_for_host(organization: Organization, credential: int | Credential | None) -> Credential | None:
    if credential is None:
        return None
    credential_id = credential.pk if isinstance(credential, Credential) else credential
    try:
        # Locked so that a concurrent credential_delete cannot remove it under us.
        return credential_get(organization=organization, credential_id=credential_id, for_update=True)
    except NotFound as exc:
        message = f"Credential {credential_id} was not found in this organization."
        raise InvalidInput(message, code="unknown_reference", extra={"errors": {"credential": [message]}}) from exc


def _prepare_host(host: Host) -> None:
    if host.primary_ip == "":
        host.primary_ip = None
    if host.port is None:
        host.port = DEFAULT_PORTS.get(host.connection)
    _check(host, json_fields={"vars": validate_vars, "labels": validate_labels})
    host.labels = normalize_labels(host.labels)
    if host_hostname_taken(organization_id=host.organization_id, hostname=host.hostname, exclude_pk=host.pk):
        raise _duplicate(host)


def _prepare_group(group: HostGroup) -> None:
    _check(group, json_fields={"vars": validate_vars})
    taken = HostGroup.objects.filter(organization_id=group.organization_id, name=group.name)
    if taken.exclude(pk=group.pk).exists():
        raise _duplicate(group)


def _check(instance: models.Model, *, json_fields: dict[str, Callable[[Any], None]]) -> None:
    """Field rules (validators.py); a violation is a 400 naming the field."""
    try:
        instance.full_clean(
            exclude=["organization", "credential", "groups"], validate_unique=False, validate_constraints=False
        )
        # full_clean skips validators for "empty" values, and [] or {} can be the wrong type.
        errors = {}
        for field, validator in json_fields.items():
            try:
                validator(getattr(instance, field))
            except ValidationError as exc:
                errors[field] = exc.messages
        if errors:
            raise ValidationError(errors)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise InvalidInput(f"{field}: {messages[0]}", extra={"errors": exc.message_dict}) from exc


def _save(instance: Host | HostGroup) -> None:
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as exc:  # a concurrent request took the name after the check
        raise _duplicate(instance) from exc


def _duplicate(instance: Host | HostGroup) -> Conflict:
    if isinstance(instance, Host):
        return Conflict(f"A host named '{instance.hostname}' already exists.", code="duplicate")
    return Conflict(f"A host group named '{instance.name}' already exists.", code="duplicate")


def _reject_unknown(fields: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise InvalidInput(f"Unknown field(s): {', '.join(unknown)}.")


def _changed(before: dict[str, Any], after: dict[str, Any], *, vars_changed: bool) -> dict[str, Any]:
    changed = {key: value for key, value in after.items() if before.get(key) != value}
    if vars_changed:
        changed["vars_keys"] = after["vars_keys"]  # that they changed, not to what
    return changed


def _host_audit(host: Host) -> dict[str, Any]:
    # Variable names only: values are free-form and may hold something sensitive.
    return {
        "hostname": host.hostname,
        "primary_ip": host.primary_ip,
        "os": host.os,
        "connection": host.connection,
        "port": host.port,
        "credential": host.credential_id,
        "groups": sorted(host.groups.values_list("name", flat=True)) if host.pk else [],
        "vars_keys": sorted(host.vars),
        "labels": list(host.labels),
        "is_enabled": host.is_enabled,
        "username": host.username,
        "become": host.become,
        "host_key_policy": host.host_key_policy,
    }


def _group_audit(group: HostGroup) -> dict[str, Any]:
    return {
        "name": group.name,
        "description": group.description,
        "vars_keys": sorted(group.vars),
        "host_count": group.hosts.count() if group.pk else 0,
    }
