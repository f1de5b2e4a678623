"""Portal input for the kill switch. The forms only shape what the browser sent into the
services' arguments; the services decide (a reason, a future `until`, a workflow of this
organization) and their errors are shown beside the form."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms

from apps.automation.services import REASON_MAX
from apps.core.forms import zone_from_name


class PauseForm(forms.Form):
    reason = forms.CharField(max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 2}),
                             error_messages={"required": "Say why automation is paused: a reason is required."})
    workflow = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Scope")
    until = forms.CharField(required=False, max_length=32, label="Until")
    timezone = forms.CharField(required=False, max_length=64)

    def __init__(self, data: Any = None, *, workflows: Any) -> None:
        super().__init__(data)
        self.fields["workflow"].choices = [("", "The whole organization"),
                                           *((w.pk, f"Workflow {w.name}") for w in workflows)]

    def clean_timezone(self) -> ZoneInfo:
        return zone_from_name(self.cleaned_data["timezone"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        text = (cleaned.get("until") or "").strip()
        cleaned["until"] = None
        if text and "timezone" in cleaned:
            try:
                when = datetime.fromisoformat(text)
            except ValueError:
                self.add_error("until", "Enter a date and a time, or leave it empty.")
            else:
                cleaned["until"] = when.replace(tzinfo=cleaned["timezone"]) if when.tzinfo is None else when
        return cleaned

    def engage_kwargs(self) -> dict[str, Any]:
        return {key: self.cleaned_data[key] for key in ("reason", "until", "workflow")}


class ResumeForm(forms.Form):
    workflow = forms.IntegerField(required=False, min_value=1)
    reason = forms.CharField(required=False, max_length=REASON_MAX)

    def release_kwargs(self) -> dict[str, Any]:
        return {"workflow": self.cleaned_data["workflow"], "reason": self.cleaned_data["reason"]}
