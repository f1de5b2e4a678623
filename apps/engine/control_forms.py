"""Portal input for the operator controls (DESIGN §6): the shape of what the browser sent,
the same fields as the API's inputs (apps/engine/api/serializers.py). Whether the action
is allowed is the service's call."""

from __future__ import annotations

from typing import Any

from django import forms

MAX_REASON = 2000
MAX_TASKS = 1000
MAX_TASK_ID = 100

CANCEL_MODES = [
    ("standard", "Standard: no new step starts, running jobs finish"),
    ("force", "Force: running jobs are stopped"),
    ("kill", "Kill: SIGTERM, then SIGKILL after 5 s"),
]


class ReasonForm(forms.Form):
    reason = forms.CharField(required=False, max_length=MAX_REASON)

    def service_kwargs(self) -> dict[str, Any]:
        return {"reason": self.cleaned_data["reason"]}


class CancelForm(ReasonForm):
    mode = forms.ChoiceField(choices=CANCEL_MODES)
    cleanup = forms.BooleanField(required=False)

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"reason": data["reason"], "mode": data["mode"], "cleanup": data["cleanup"]}


class TerminateForm(ReasonForm):
    """The operator types the run's number: a terminate kills jobs at once, no cleanup."""

    confirm = forms.CharField(max_length=50)

    def __init__(self, *args: Any, instance_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance_id = instance_id

    def clean_confirm(self) -> str:
        typed = self.cleaned_data["confirm"].strip().removeprefix("#")
        if typed != str(self.instance_id):
            raise forms.ValidationError(f"Type the run number {self.instance_id} to confirm.", code="confirm")
        return typed


class RerunForm(forms.Form):
    """`tasks` are the step ids to start at (none: the whole workflow). Any id is passed on:
    the service says which are unknown or never ran. `no_reset` keeps the hosts that
    succeeded in every chosen task; `no_reset_tasks` in those tasks only."""

    no_reset = forms.BooleanField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("tasks", "no_reset_tasks"):
            ids = [task.strip() for task in self.data.getlist(name) if task.strip()]
            if len(ids) > MAX_TASKS or any(len(task) > MAX_TASK_ID for task in ids):
                raise forms.ValidationError("Choose fewer or shorter tasks.", code="tasks")
            data[name] = list(dict.fromkeys(ids))
        return data

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"tasks": data["tasks"], "no_reset": True if data["no_reset"] else data["no_reset_tasks"]}
