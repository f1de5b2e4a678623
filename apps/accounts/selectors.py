"""Org-scoped reads for accounts, and the one place that decides a request's organization."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from apps.accounts.models import Membership, Organization
from apps.accounts.roles import ADMIN_ROLES, permissions_for
from apps.core.errors import NotFound, OrganizationRequired

User = get_user_model()


def organizations_for_user(*, user) -> QuerySet[Organization]:
    if user.is_superuser:
        return Organization.objects.all()
    return Organization.objects.filter(memberships__user=user).distinct()


def membership_get(*, user, organization: Organization) -> Membership | None:
    cache = getattr(user, "_opsflow_memberships", None)
    if cache is None:
        cache = {}
        user._opsflow_memberships = cache
    if organization.pk not in cache:
        cache[organization.pk] = Membership.objects.filter(user=user, organization=organization).first()
    return cache[organization.pk]


def role_for(*, user, organization: Organization) -> str | None:
    membership = membership_get(user=user, organization=organization)
    return membership.role if membership else None


def user_has_perm(*, user, organization: Organization, perm: str) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return perm in permissions_for(role_for(user=user, organization=organization))


def user_is_org_admin(*, user, organization: Organization) -> bool:
    return user.is_superuser or role_for(user=user, organization=organization) in ADMIN_ROLES


def organization_resolve(*, user, slug: str | None) -> Organization:
    """DESIGN §9: the `X-Organization` slug, else the user's only organization.

    A slug the user may not see is a 404 (never a hint that it exists)."""
    visible = organizations_for_user(user=user)
    if slug:
        organization = visible.filter(slug=slug).first()
        if organization is None:
            raise NotFound(f"Organization '{slug}' was not found.")
        return organization
    if user.is_superuser:
        visible = Organization.objects.filter(memberships__user=user).distinct()
    organizations = list(visible[:2])
    if len(organizations) == 1:
        return organizations[0]
    if not organizations:
        raise OrganizationRequired(
            "You are not a member of any organization; name one in the X-Organization header."
            if user.is_superuser
            else "You are not a member of any organization."
        )
    raise OrganizationRequired(
        "You belong to several organizations: name one with the X-Organization header (its slug)."
    )


def members_list(*, organization: Organization) -> QuerySet[Membership]:
    return Membership.objects.filter(organization=organization).select_related("user")
