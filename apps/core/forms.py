"""Small pieces shared by portal forms."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.conf import settings


def zone_from_name(name: str) -> ZoneInfo:
    """The browser's IANA time zone name (blank: the server's), or a form error."""
    name = (name or "").strip() or settings.TIME_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise forms.ValidationError(f"Unknown time zone '{name}'.") from exc
