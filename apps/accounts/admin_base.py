"""Admin base: non-superuser staff see and edit only their organizations' objects."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.accounts.models import Organization
from apps.accounts.roles import ADMIN_ROLES


def admin_organizations(request: HttpRequest) -> QuerySet[Organization]:
    if request.user.is_superuser:
        return Organization.objects.all()
    return Organization.objects.filter(memberships__user=request.user, memberships__role__in=ADMIN_ROLES).distinct()


class OrgScopedAdmin(admin.ModelAdmin):
    # Path from the model to its organization ("pk" for Organization itself).
    organization_field = "organization"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        lookup = "pk__in" if self.organization_field == "pk" else f"{self.organization_field}__in"
        return queryset.filter(**{lookup: admin_organizations(request)})

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "organization" and not request.user.is_superuser:
            kwargs["queryset"] = admin_organizations(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
