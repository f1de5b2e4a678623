"""Portal input: the Run form and the log panel's filters.

The Run form only shapes what the browser sent into `instance_start`'s arguments; the
service decides what is allowed (declared variables, known hosts and groups, an active
definition) and its errors are shown beside the form."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.utils import timezone

from apps.core.forms import zone_from_name

VAR_PREFIX = "var."
MAX_TARGETS = 10_000
DEFAULT_LOG_LINES = 200
MAX_LOG_LINES = 5_000


class JSONValueField(forms.CharField):
    """A variable whose declared default is a number, a list or an object: typed as JSON."""

    def __init__(self, *, kinds: tuple[type, ...], example: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kinds = kinds
        self.example = example

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        if not text:
            return None
        try:
            parsed = json.loads(text, parse_constant=_reject, parse_float=_finite_float)
        except ValueError:
            parsed = None
        if isinstance(parsed, bool) or not isinstance(parsed, self.kinds):
            raise forms.ValidationError(f"Enter {self.example}.", code="invalid_json")
        return parsed


def _reject(constant: str) -> None:
    raise ValueError(f"{constant} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999: no database stores it as JSON
        raise ValueError(f"{text} is out of range")
    return value


def variable_field(var: dict[str, Any]) -> forms.Field:
    default = var.get("default")
    required = bool(var.get("required")) and default is None
    attrs: dict[str, Any] = {"aria-describedby": f"var-hint-{var['name']}"}
    if required:
        attrs["required"] = True
    common = {"required": False, "label": var["name"], "help_text": var.get("description", "")}
    if var.get("sensitive"):
        attrs["autocomplete"] = "new-password"
        return forms.CharField(strip=False, widget=forms.PasswordInput(attrs=attrs, render_value=False), **common)
    if default is not None:
        attrs["placeholder"] = default if isinstance(default, str) else json.dumps(default)
    if isinstance(default, bool):
        choices = [("", f"Default ({json.dumps(default)})"), ("true", "true"), ("false", "false")]
        return forms.TypedChoiceField(choices=choices, coerce=lambda value: value == "true", empty_value=None,
                                      widget=forms.Select(attrs=attrs), **common)
    if isinstance(default, int | float):
        return JSONValueField(kinds=(int, float), example="a number", widget=forms.TextInput(
            attrs={**attrs, "inputmode": "decimal"}), **common)
    if isinstance(default, list | dict):
        kind, example = (list, 'a JSON list, e.g. ["a", "b"]') if isinstance(default, list) else (
            dict, 'a JSON object, e.g. {"key": "value"}')
        return JSONValueField(kinds=(kind,), example=example, widget=forms.Textarea(attrs={**attrs, "rows": 3}),
                              **common)
    return forms.CharField(widget=forms.TextInput(attrs=attrs), **common)


def target_refs(values: list[str]) -> list[int | str]:
    """Submitted host or group references, in order, without repeats: ids as ints."""
    refs: dict[int | str, None] = {}
    for value in values:
        value = value.strip()
        if value:
            refs[int(value) if value.isascii() and value.isdigit() else value] = None
    return list(refs)


class RunForm(forms.Form):
    # Missing (Enter pressed in a field) means the first button: Run now.
    action = forms.ChoiceField(choices=[("run", "Run now"), ("schedule", "Schedule")], required=False)
    schedule_date = forms.DateField(required=False, label="Date")
    schedule_time = forms.TimeField(required=False, label="Time")
    timezone = forms.CharField(required=False, max_length=64)

    def __init__(self, data: Any = None, *, variables: list[dict[str, Any]]) -> None:
        super().__init__(data)
        self.declared = [var for var in variables if isinstance(var, dict) and var.get("name")]
        for var in self.declared:
            self.fields[VAR_PREFIX + var["name"]] = variable_field(var)

    def variable_rows(self) -> list[dict[str, Any]]:
        """What the page shows per declared variable; a sensitive default is never shown."""
        rows = []
        for var in self.declared:
            default = var.get("default")
            rows.append({
                "field": self[VAR_PREFIX + var["name"]],
                "name": var["name"],
                "description": var.get("description", ""),
                "sensitive": bool(var.get("sensitive")),
                "required": bool(var.get("required")) and default is None,
                "has_default": default is not None,
                "default": "" if var.get("sensitive") or default is None else (
                    default if isinstance(default, str) else json.dumps(default)),
            })
        return rows

    def summary_errors(self) -> list[str]:
        """Errors with no visible field to sit beside: the form's own, the time zone, the button."""
        hidden = [str(message) for name in ("timezone", "action") for message in self.errors.get(name, [])]
        return [*map(str, self.non_field_errors()), *hidden]

    def has_field_errors(self) -> bool:
        return any(name not in ("__all__", "timezone", "action") for name in self.errors)

    def hosts(self) -> list[int | str]:
        return target_refs(self.data.getlist("hosts")) if self.is_bound else []

    def groups(self) -> list[int | str]:
        return target_refs(self.data.getlist("groups")) if self.is_bound else []

    def clean_timezone(self) -> ZoneInfo:
        return zone_from_name(self.cleaned_data["timezone"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        refs = self.hosts() + self.groups()
        if len(self.hosts()) > MAX_TARGETS or len(self.groups()) > MAX_TARGETS:
            raise forms.ValidationError(f"Choose at most {MAX_TARGETS} hosts; use host groups for more.")
        # Digits other than 0-9 ("²") are neither an id nor a name (and int() would choke on them).
        odd = [ref for ref in refs if isinstance(ref, str) and ref.isdigit()]
        if odd:
            raise forms.ValidationError(f"'{odd[0]}' is not a host or group reference.")
        cleaned["scheduled_for"] = None
        if cleaned.get("action") != "schedule" or "timezone" not in cleaned:
            return cleaned
        day, at, zone = cleaned.get("schedule_date"), cleaned.get("schedule_time"), cleaned["timezone"]
        if not day or not at:
            raise forms.ValidationError("Choose a date and a time to schedule the run.")
        when = datetime.combine(day, at).replace(tzinfo=zone)
        if when <= timezone.now():
            raise forms.ValidationError(
                f"{when:%Y-%m-%d %H:%M} ({zone.key}) has already passed: choose a time in the future."
            )
        cleaned["scheduled_for"] = when
        return cleaned

    def variables(self) -> dict[str, Any]:
        """Filled-in declared variables, plus any other `var.<name>` the request carried:
        the service reports an undeclared name (the definition may have changed)."""
        values = {
            var["name"]: self.cleaned_data[VAR_PREFIX + var["name"]]
            for var in self.declared
            if self.cleaned_data.get(VAR_PREFIX + var["name"]) not in (None, "")
        }
        for key, value in self.data.items():
            name = key.removeprefix(VAR_PREFIX)
            if key.startswith(VAR_PREFIX) and name not in values and key not in self.fields and value:
                values[name] = value
        return values

    def start_kwargs(self) -> dict[str, Any]:
        return {
            "hosts": self.hosts(),
            "groups": self.groups(),
            "variables": self.variables(),
            "scheduled_for": self.cleaned_data["scheduled_for"],
        }


class LogFilterForm(forms.Form):
    step = forms.CharField(required=False, max_length=100)
    host = forms.CharField(required=False, max_length=255)
    stream = forms.ChoiceField(required=False, choices=[
        ("", "All streams"), ("stdout", "stdout"), ("stderr", "stderr"), ("system", "system"),
        ("errors", "stderr and system"),
    ])
    lines = forms.IntegerField(required=False, min_value=1, max_value=MAX_LOG_LINES, label="Last lines")

    def filters(self) -> dict[str, Any]:
        data = self.cleaned_data if self.is_valid() else {}
        return {
            "step": data.get("step", ""),
            "host": data.get("host", ""),
            "stream": data.get("stream", ""),
            "limit": data.get("lines") or DEFAULT_LOG_LINES,
        }
