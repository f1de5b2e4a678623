"""The base every org-scoped API endpoint builds on (DESIGN §7, STYLE rule 6).

A viewset names a selector and a permission per action; this base resolves the request's
organization once, checks the role's permission, and hands the selector the organization,
so a foreign object is simply not in the queryset (404, never 403).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import QuerySet
from rest_framework import permissions, viewsets
from rest_framework.request import Request

from apps.accounts.models import Organization
from apps.accounts.selectors import user_has_perm
from apps.accounts.tenancy import request_organization
from apps.core.errors import PermissionDenied

DEFAULT_ACTION_PERMS = {
    "list": "view",
    "retrieve": "view",
    "create": "create",
    "update": "edit",
    "partial_update": "edit",
    "destroy": "delete",
}


class HasOrgPermission(permissions.BasePermission):
    """Authenticated, acting in an organization, and holding the action's permission."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if getattr(view, "swagger_fake_view", False):
            return True
        organization = request_organization(request)
        perm = view.required_permission()
        if perm and not user_has_perm(user=request.user, organization=organization, perm=perm):
            raise PermissionDenied(f"This needs the '{perm}' permission in {organization.slug}.")
        return True


class OrgScopedMixin:
    """Mix into any APIView/ViewSet that acts inside the request's organization."""

    permission_classes: ClassVar = [HasOrgPermission]
    # e.g. "workflows": list -> workflows.view, create -> workflows.create, ...
    permission_scope: ClassVar[str | None] = None
    # Per-action overrides: {"run": "workflows.execute"}; None = membership is enough.
    action_permissions: ClassVar[dict[str, str | None]] = {}

    def required_permission(self) -> str | None:
        action = getattr(self, "action", None) or self.request.method.lower()  # type: ignore[attr-defined]
        if action in self.action_permissions:
            return self.action_permissions[action]
        verb = DEFAULT_ACTION_PERMS.get(action)
        if verb is None:
            method = self.request.method  # type: ignore[attr-defined]
            verb = "view" if method in permissions.SAFE_METHODS else "edit"
        if self.permission_scope is None:
            return None
        return f"{self.permission_scope}.{verb}" if "." not in verb else verb

    @property
    def organization(self) -> Organization:
        return request_organization(self.request)  # type: ignore[attr-defined]


class OrgScopedViewSet(OrgScopedMixin, viewsets.GenericViewSet):
    """Subclasses implement `scoped_queryset(organization)` by calling their app's selector."""

    def scoped_queryset(self, organization: Organization) -> QuerySet:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            model = self.get_serializer_class().Meta.model
            return model.objects.none()
        return self.scoped_queryset(self.organization)
