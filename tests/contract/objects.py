"""One maker per API object endpoint: given an organization, create an object there and
return the path parameters that address it. The contract tests walk the OpenAPI schema
and fail for any object endpoint that has no maker here, so every endpoint added later
is covered by the tenancy matrix and the malformed-input sweep."""

from __future__ import annotations

from collections.abc import Callable

from apps.accounts.models import Membership, Organization
from apps.accounts.roles import Role
from apps.audit.services import audit_record
from tests.factories import UserFactory

Maker = Callable[[Organization], dict[str, str]]


def _audit_event(org: Organization) -> dict[str, str]:
    event = audit_record(actor=None, action="contract.probe", organization=org, data={"probe": org.slug})
    return {"id": str(event.pk)}


def _organization(org: Organization) -> dict[str, str]:
    return {"slug": org.slug}


def _member(org: Organization) -> dict[str, str]:
    user = UserFactory(username=f"member-of-{org.slug}")
    Membership.objects.get_or_create(organization=org, user=user, defaults={"role": Role.VIEWER})
    return {"slug": org.slug, "username": user.username}


MAKERS: dict[str, Maker] = {
    "/api/audit/{id}/": _audit_event,
    "/api/organizations/{slug}/": _organization,
    "/api/organizations/{slug}/members/": _organization,
    "/api/organizations/{slug}/members/{username}/": _member,
}
