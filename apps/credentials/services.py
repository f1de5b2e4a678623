"""Every write to the vault. The plaintext secret is encrypted before it touches a model
and never reaches an audit event, a log line, an exception message or a response."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, RestrictedError

from apps.accounts.models import Organization
from apps.audit.services import audit_record
from apps.core.crypto import decrypt, encrypt
from apps.core.errors import Conflict, InvalidInput
from apps.credentials.models import Credential
from apps.credentials.selectors import credential_get, credential_is_used

MAX_SECRET_LENGTH = 64 * 1024
EDITABLE_FIELDS = ("name", "kind", "username", "description")


@transaction.atomic
def credential_create(
    *,
    organization: Organization,
    actor: AbstractBaseUser | None,
    name: str,
    kind: str,
    secret: str,
    username: str = "",
    description: str = "",
) -> Credential:
    credential = Credential(
        organization=organization, name=name, kind=kind, username=username, description=description,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    _set_secret(credential, secret)
    _check(credential)
    _save(credential)
    audit_record(actor=actor, action="credential.create", target=credential, data=_audit_data(credential, True))
    return credential


@transaction.atomic
def credential_update(
    *,
    organization: Organization,
    credential_id: int,
    actor: AbstractBaseUser | None,
    secret: str | None = None,
    **changes: Any,
) -> Credential:
    """Change the given fields; without `secret` the stored secret is kept."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown credential field(s): {', '.join(sorted(unknown))}.")
    credential = credential_get(organization=organization, credential_id=credential_id, for_update=True)
    for field, value in changes.items():
        setattr(credential, field, value)
    if secret is not None:
        _set_secret(credential, secret)
    _check(credential)
    _save(credential)
    audit_record(
        actor=actor, action="credential.update", target=credential,
        data={**_audit_data(credential, secret is not None), "changed": sorted(changes)},
    )
    return credential


@transaction.atomic
def credential_delete(*, organization: Organization, credential_id: int, actor: AbstractBaseUser | None) -> None:
    credential = credential_get(organization=organization, credential_id=credential_id, for_update=True)
    # Host creation and updates lock the credential row too, so no host can start using
    # it between this check and the delete.
    if credential_is_used(credential=credential):
        raise _in_use(credential)
    audit_record(actor=actor, action="credential.delete", target=credential, data=_audit_data(credential, False))
    try:
        with transaction.atomic():
            credential.delete()
    except (ProtectedError, RestrictedError) as exc:  # e.g. a workflow run's PAM session
        raise _in_use(credential) from exc


def credential_secret(credential: Credential) -> str:
    """The plaintext secret, decrypted in memory.

    Only the jobs worker (the engine building a job for a host) may call this, right before
    the secret is used; never pass the result to a log, an audit event, a template context
    that is rendered for display, or a response."""
    return decrypt(credential.secret_encrypted)


def _set_secret(credential: Credential, secret: str) -> None:
    if not isinstance(secret, str) or not secret:
        raise InvalidInput("secret must not be empty.", extra={"errors": {"secret": ["This field may not be blank."]}})
    if len(secret) > MAX_SECRET_LENGTH:
        message = f"secret must stay under {MAX_SECRET_LENGTH // 1024} KiB."
        raise InvalidInput(message, extra={"errors": {"secret": [message]}})
    credential.secret_encrypted = encrypt(secret)


def _check(credential: Credential) -> None:
    try:
        credential.full_clean(exclude=["organization", "created_by", "secret_encrypted"], validate_unique=False,
                              validate_constraints=False)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise InvalidInput(f"{field}: {messages[0]}", extra={"errors": exc.message_dict}) from exc
    duplicate = Credential.objects.filter(organization_id=credential.organization_id, name=credential.name)
    if duplicate.exclude(pk=credential.pk).exists():
        raise _duplicate(credential)


def _save(credential: Credential) -> None:
    try:
        with transaction.atomic():
            credential.save()
    except IntegrityError as exc:  # a concurrent request took the name after _check
        raise _duplicate(credential) from exc


def _duplicate(credential: Credential) -> Conflict:
    return Conflict(f"A credential named '{credential.name}' already exists.", code="duplicate")


def _in_use(credential: Credential) -> Conflict:
    hosts = list(credential.hosts.order_by("hostname").values_list("hostname", flat=True)[:5])
    used_by = f" by {', '.join(hosts)}" if hosts else ""
    return Conflict(
        f"Credential '{credential.name}' is still used{used_by}; change those hosts first.",
        code="credential_in_use",
    )


def _audit_data(credential: Credential, secret_changed: bool) -> dict[str, Any]:
    # Names and metadata only: the secret (plaintext or ciphertext) never enters the trail.
    return {
        "name": credential.name,
        "kind": credential.kind,
        "username": credential.username,
        "secret_changed": secret_changed,
    }
