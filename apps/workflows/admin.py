"""Workflow admin. Saves go through the services (validation, the published rule, a new
version and an audit event); versions are read-only history."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.accounts.admin_base import OrgScopedAdmin
from apps.core.errors import ApplicationError
from apps.workflows.formats import CONTENT_FIELDS, FLAG_FIELDS, apply_content, definition_content
from apps.workflows.models import WorkflowDefinition, WorkflowVersion
from apps.workflows.services import (
    check_definition,
    definition_create,
    definition_delete,
    definition_update,
)


class WorkflowDefinitionAdminForm(forms.ModelForm):
    class Meta:
        model = WorkflowDefinition
        fields = ["organization", *CONTENT_FIELDS, *FLAG_FIELDS]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        organization = cleaned.get("organization") or getattr(self.instance, "organization", None)
        if organization is None or self.errors:
            return cleaned
        content = {key: cleaned.get(key) for key in CONTENT_FIELDS}
        content["steps"] = content["steps"] if content["steps"] is not None else []
        content["variables"] = content["variables"] if content["variables"] is not None else []
        content["start"], content["on_cancel"] = content["start"] or None, content["on_cancel"] or None
        if self.instance.pk and self.instance.is_published and content != definition_content(self.instance):
            raise forms.ValidationError("This workflow is published: only is_active and is_published can change.")
        try:
            check_definition(content, organization_id=organization.pk, definition_id=self.instance.pk,
                             publishing=bool(cleaned.get("is_published")) and not self.instance.is_published)
        except ApplicationError as exc:
            errors = exc.extra.get("errors") or []
            raise forms.ValidationError([f"{e['path']}: {e['message']}" for e in errors] or exc.message) from exc
        cleaned.update(content)
        return cleaned


@admin.register(WorkflowDefinition)
class WorkflowDefinitionAdmin(OrgScopedAdmin):
    form = WorkflowDefinitionAdminForm
    list_display = ["name", "organization", "trigger_type", "is_published", "is_active", "is_template", "updated_at"]
    list_filter = ["is_published", "is_active", "is_template", "trigger_type", "organization"]
    search_fields = ["name", "description"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    list_select_related = ["organization"]

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> type[forms.ModelForm]:
        form = super().get_form(request, obj, **kwargs)
        form.base_fields["organization"].disabled = obj is not None  # moving it would cross tenants
        return form

    def save_model(self, request: HttpRequest, obj: WorkflowDefinition, form: forms.ModelForm, change: bool) -> None:
        data = {key: form.cleaned_data[key] for key in (*CONTENT_FIELDS, *FLAG_FIELDS)}
        try:
            if change:
                saved = definition_update(organization=obj.organization, definition_id=obj.pk, actor=request.user,
                                          **data)
            else:
                saved = definition_create(organization=form.cleaned_data["organization"], actor=request.user,
                                          **data)
        except ApplicationError as exc:  # e.g. a published definition: shown, nothing saved
            self.message_user(request, exc.message, level="error")
            return
        apply_content(obj, data)
        obj.pk, obj._state.adding = saved.pk, False

    def delete_model(self, request: HttpRequest, obj: WorkflowDefinition) -> None:
        definition_delete(organization=obj.organization, definition_id=obj.pk, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[WorkflowDefinition]) -> None:
        for definition in queryset.select_related("organization"):
            self.delete_model(request, definition)


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(OrgScopedAdmin):
    organization_field = "definition__organization"
    list_display = ["definition", "number", "step_count", "actor", "created_at"]
    list_filter = ["definition__organization"]
    search_fields = ["definition__name"]
    list_select_related = ["definition", "actor"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
