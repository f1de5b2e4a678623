"""Kill switch admin: the rows are the switch's history and stay read-only. "Add" engages
the switch and the "Release" action resumes, both through the services (validation, row
locks, audit), like the API and the portal."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.accounts.admin_base import OrgScopedAdmin, admin_organizations
from apps.automation.models import KillSwitch, KillSwitchState
from apps.automation.services import kill_switch_check, kill_switch_engage, kill_switch_release
from apps.core.errors import ApplicationError


class KillSwitchEngageForm(forms.ModelForm):
    class Meta:
        model = KillSwitch
        fields = ["organization", "workflow", "reason", "until"]
        help_texts = {"workflow": "Empty: the whole organization.",
                      "until": "Optional: the switch turns itself off at this time."}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        organization, workflow = cleaned.get("organization"), cleaned.get("workflow")
        if organization is not None and workflow is not None and workflow.organization_id != organization.pk:
            self.add_error("workflow", "Pick a workflow of this organization.")
        if cleaned.get("reason") is not None:
            try:
                cleaned["reason"] = kill_switch_check(reason=cleaned["reason"], until=cleaned.get("until"))
            except ApplicationError as exc:
                raise forms.ValidationError(exc.message, code=exc.code) from exc
        return cleaned


@admin.register(KillSwitch)
class KillSwitchAdmin(OrgScopedAdmin):
    form = KillSwitchEngageForm
    list_display = ["organization", "workflow", "reason", "until", "engaged_by", "created_at", "released_at",
                    "released_by", "release_reason"]
    list_filter = ["organization", "released_at"]
    list_select_related = ["organization", "workflow", "engaged_by", "released_by"]
    search_fields = ["reason", "release_reason"]
    actions = ["release"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "workflow" and not request.user.is_superuser:
            kwargs["queryset"] = db_field.related_model.objects.filter(organization__in=admin_organizations(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: KillSwitch, form: forms.ModelForm, change: bool) -> None:
        workflow = form.cleaned_data["workflow"]
        saved = kill_switch_engage(
            organization=form.cleaned_data["organization"], actor=request.user, reason=form.cleaned_data["reason"],
            until=form.cleaned_data["until"], workflow=workflow.pk if workflow is not None else None,
        )
        obj.pk, obj.created_at, obj._state.adding = saved.pk, saved.created_at, False

    @admin.action(description="Release the selected kill switches (resume automation)")
    def release(self, request: HttpRequest, queryset: QuerySet[KillSwitch]) -> None:
        released = 0
        for switch in queryset.select_related("organization"):
            if switch.state != KillSwitchState.ENGAGED:
                self.message_user(request, f"{switch}: already off.", messages.WARNING)
                continue
            released += len(kill_switch_release(organization=switch.organization, actor=request.user,
                                                reason="released in the admin", workflow=switch.workflow_id))
        self.message_user(request, f"Released {released} kill switch(es).")
