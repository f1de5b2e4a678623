from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from apps.accounts.authentication import token_digest
from apps.accounts.models import ApiToken, Membership, Organization
from apps.accounts.roles import Perm, Role
from apps.accounts.selectors import user_has_perm
from apps.audit.services import audit_record
from apps.core.errors import Conflict, InvalidInput, PermissionDenied

User = get_user_model()


@transaction.atomic
def organization_create(*, name: str, slug: str, actor) -> Organization:
    if not actor.is_superuser:
        raise PermissionDenied("Only a superuser can create organizations.")
    if Organization.objects.filter(slug=slug).exists():
        raise Conflict(f"An organization with slug '{slug}' already exists.", code="duplicate_slug")
    organization = Organization.objects.create(name=name, slug=slug)
    audit_record(actor=actor, action="organization.create", organization=organization, target=organization,
                 data={"name": name, "slug": slug})
    return organization


@transaction.atomic
def member_set(
    *,
    organization: Organization,
    username: str,
    role: str,
    actor,
    password: str | None = None,
    email: str = "",
) -> Membership:
    """Create the user if missing and set their role in the organization (DESIGN §9)."""
    if not user_has_perm(user=actor, organization=organization, perm=Perm.SETTINGS_MANAGE):
        raise PermissionDenied("Managing members needs the 'settings.manage' permission.")
    if role not in Role.values:
        raise InvalidInput(f"Unknown role '{role}'.", code="invalid_role")
    if role == Role.OWNER and not (actor.is_superuser or _is_owner(actor, organization)):
        raise PermissionDenied("Only an owner can make another owner.")
    user = User.objects.select_for_update().filter(username=username).first()
    created = user is None
    if created:
        user = User(username=username, email=email or "")
        if password:
            _check_password(password, user)
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
    membership, _ = Membership.objects.select_for_update().get_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    previous = membership.role
    if previous != role:
        if previous == Role.OWNER and not _has_other_owner(organization, user):
            raise Conflict("An organization must keep at least one owner.", code="last_owner")
        membership.role = role
        membership.save(update_fields=["role", "updated_at"])
    audit_record(actor=actor, action="membership.set", organization=organization, target=membership,
                 data={"username": username, "role": role, "previous_role": previous if not created else None,
                       "user_created": created})
    return membership


@transaction.atomic
def member_remove(*, organization: Organization, username: str, actor) -> None:
    if not user_has_perm(user=actor, organization=organization, perm=Perm.SETTINGS_MANAGE):
        raise PermissionDenied("Managing members needs the 'settings.manage' permission.")
    membership = (
        Membership.objects.select_for_update().filter(organization=organization, user__username=username).first()
    )
    if membership is None:
        return
    if membership.role == Role.OWNER and not _has_other_owner(organization, membership.user):
        raise Conflict("An organization must keep at least one owner.", code="last_owner")
    audit_record(actor=actor, action="membership.remove", organization=organization, target=membership,
                 data={"username": username, "role": membership.role})
    membership.delete()


def _is_owner(user, organization: Organization) -> bool:
    return Membership.objects.filter(organization=organization, user=user, role=Role.OWNER).exists()


def _has_other_owner(organization: Organization, user) -> bool:
    return Membership.objects.filter(organization=organization, role=Role.OWNER).exclude(user=user).exists()


def _check_password(password: str, user) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput(
            " ".join(exc.messages), code="weak_password", extra={"errors": {"password": exc.messages}}
        ) from exc


@transaction.atomic
def api_token_create(*, user, name: str = "", actor=None) -> tuple[ApiToken, str]:
    """Return the token row and its key; the key is not stored and cannot be shown again."""
    key = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=key[:8], digest=token_digest(key))
    audit_record(
        actor=actor or user, action="api_token.create", target=token, data={"user": user.get_username(), "name": name}
    )
    return token, key
