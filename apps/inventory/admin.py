"""Inventory admin. Saves and deletes go through the services (validation, audit), and a
host may only point at a credential and groups of its own organization."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from apps.accounts.admin_base import OrgScopedAdmin, admin_organizations
from apps.inventory.models import Host, HostGroup
from apps.inventory.services import (
    GROUP_FIELDS,
    HOST_FIELDS,
    host_create,
    host_delete,
    host_group_create,
    host_group_delete,
    host_group_update,
    host_update,
)


class HostAdminForm(forms.ModelForm):
    class Meta:
        model = Host
        fields = ["organization", *HOST_FIELDS, "credential", "groups"]

    def clean_vars(self) -> Any:
        return {} if self.cleaned_data.get("vars") is None else self.cleaned_data["vars"]

    def clean_labels(self) -> Any:
        return [] if self.cleaned_data.get("labels") is None else self.cleaned_data["labels"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        organization = cleaned.get("organization") or getattr(self.instance, "organization", None)
        if organization is None:
            return cleaned
        credential = cleaned.get("credential")
        if credential is not None and credential.organization_id != organization.pk:
            self.add_error("credential", "Pick a credential of the host's organization.")
        if any(group.organization_id != organization.pk for group in cleaned.get("groups") or []):
            self.add_error("groups", "Pick groups of the host's organization.")
        return cleaned


class HostGroupAdminForm(forms.ModelForm):
    class Meta:
        model = HostGroup
        fields = ["organization", *GROUP_FIELDS]

    def clean_vars(self) -> Any:
        return {} if self.cleaned_data.get("vars") is None else self.cleaned_data["vars"]


class ServiceAdmin(OrgScopedAdmin):
    """Organization is fixed once an object exists: moving it would cross tenants."""

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> type[forms.ModelForm]:
        form = super().get_form(request, obj, **kwargs)
        form.base_fields["organization"].disabled = obj is not None
        return form

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        for formset in formsets:  # many-to-many fields were set by the service in save_model
            self.save_formset(request, form, formset, change=change)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for obj in queryset.select_related("organization"):
            self.delete_model(request, obj)


@admin.register(Host)
class HostAdmin(ServiceAdmin):
    form = HostAdminForm
    list_display = ["hostname", "organization", "primary_ip", "connection", "os", "credential", "is_enabled"]
    list_filter = ["connection", "is_enabled", "os", "organization"]
    search_fields = ["hostname", "primary_ip", "os"]
    filter_horizontal = ["groups"]
    list_select_related = ["organization", "credential"]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "credential" and not request.user.is_superuser:
            kwargs["queryset"] = db_field.related_model.objects.filter(organization__in=admin_organizations(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "groups" and not request.user.is_superuser:
            kwargs["queryset"] = HostGroup.objects.filter(organization__in=admin_organizations(request))
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Host, form: forms.ModelForm, change: bool) -> None:
        data = {name: form.cleaned_data[name] for name in HOST_FIELDS}
        refs = {"credential": form.cleaned_data["credential"], "groups": [g.pk for g in form.cleaned_data["groups"]]}
        if change:
            saved = host_update(organization=obj.organization, host_id=obj.pk, actor=request.user, **data, **refs)
        else:
            organization = form.cleaned_data["organization"]
            saved = host_create(organization=organization, actor=request.user, **data, **refs)
        obj.pk, obj.port, obj._state.adding = saved.pk, saved.port, False

    def delete_model(self, request: HttpRequest, obj: Host) -> None:
        host_delete(organization=obj.organization, host_id=obj.pk, actor=request.user)


@admin.register(HostGroup)
class HostGroupAdmin(ServiceAdmin):
    form = HostGroupAdminForm
    list_display = ["name", "organization", "host_count", "updated_at"]
    list_filter = ["organization"]
    search_fields = ["name", "description"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[HostGroup]:
        return super().get_queryset(request).annotate(host_total=Count("hosts"))

    @admin.display(description="hosts", ordering="host_total")
    def host_count(self, obj: HostGroup) -> int:
        return obj.host_total

    def save_model(self, request: HttpRequest, obj: HostGroup, form: forms.ModelForm, change: bool) -> None:
        data = {name: form.cleaned_data[name] for name in GROUP_FIELDS}
        if change:
            saved = host_group_update(organization=obj.organization, group_id=obj.pk, actor=request.user, **data)
        else:
            saved = host_group_create(organization=form.cleaned_data["organization"], actor=request.user, **data)
        obj.pk, obj._state.adding = saved.pk, False

    def delete_model(self, request: HttpRequest, obj: HostGroup) -> None:
        host_group_delete(organization=obj.organization, group_id=obj.pk, actor=request.user)
