"""Vault admin. The secret is a write-only password field: the change page never renders
the stored value (neither plaintext nor ciphertext), and saves go through the services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.accounts.admin_base import OrgScopedAdmin
from apps.credentials.models import Credential
from apps.credentials.services import EDITABLE_FIELDS, credential_create, credential_delete, credential_update


class CredentialAdminForm(forms.ModelForm):
    secret = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only. Leave empty to keep the current secret.",
    )

    class Meta:
        model = Credential
        fields = ["organization", *EDITABLE_FIELDS]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.instance.pk is None and not cleaned.get("secret"):
            self.add_error("secret", "A new credential needs a secret.")
        return cleaned


@admin.register(Credential)
class CredentialAdmin(OrgScopedAdmin):
    form = CredentialAdminForm
    list_display = ["name", "organization", "kind", "username", "updated_at"]
    list_filter = ["kind", "organization"]
    search_fields = ["name", "username", "description"]
    fields = ["organization", *EDITABLE_FIELDS, "secret", "created_by", "created_at", "updated_at"]
    readonly_fields = ["created_by", "created_at", "updated_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Credential]:
        return super().get_queryset(request).defer("secret_encrypted")

    def get_form(self, request: HttpRequest, obj: Credential | None = None, **kwargs: Any) -> type[forms.ModelForm]:
        form = super().get_form(request, obj, **kwargs)
        # Moving a credential between organizations would hand it to the other tenant's hosts.
        form.base_fields["organization"].disabled = obj is not None
        return form

    def save_model(self, request: HttpRequest, obj: Credential, form: forms.ModelForm, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in EDITABLE_FIELDS}
        secret = form.cleaned_data.get("secret") or None
        if change:
            saved = credential_update(
                organization=obj.organization, credential_id=obj.pk, actor=request.user, secret=secret, **fields
            )
        else:
            saved = credential_create(
                organization=form.cleaned_data["organization"], actor=request.user, secret=secret or "", **fields
            )
        obj.pk, obj.secret_encrypted, obj._state.adding = saved.pk, saved.secret_encrypted, False

    def delete_model(self, request: HttpRequest, obj: Credential) -> None:
        credential_delete(organization=obj.organization, credential_id=obj.pk, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Credential]) -> None:
        for credential in queryset.select_related("organization"):
            self.delete_model(request, credential)
