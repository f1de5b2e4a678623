"""How run statuses, durations and data look in the portal.

Every status of DESIGN §5 (instance, step and job) has a tone (its colour) and an icon,
and the badge always spells the status out, so the colour is never the only signal."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone

from apps.engine.states import PauseReason

register = template.Library()

# status -> (tone, icon). Tones: idle (gray), wait (yellow), active (blue), ok (green),
# bad (red), ended (gray-ish, dashed: stopped without succeeding).
STATUS_STYLES: dict[str, tuple[str, str]] = {
    "pending": ("idle", "○"),
    "queued": ("idle", "○"),
    "scheduled": ("wait", "◷"),
    "waiting": ("wait", "◔"),
    "pausing": ("wait", "‖"),
    "paused": ("wait", "‖"),
    "running": ("active", "▸"),
    "succeeded": ("ok", "✓"),
    "failed": ("bad", "✕"),
    "timeout": ("bad", "\u26a0\ufe0e"),  # ⚠ as text, never the emoji
    "canceling": ("ended", "⊘"),
    "force_canceling": ("ended", "⊘"),
    "kill_canceling": ("ended", "⊘"),
    "canceled": ("ended", "⊘"),
    "rejected": ("ended", "⊖"),
    "terminated": ("ended", "■"),
    "skipped": ("ended", "↷"),
    "unreachable": ("ended", "–"),
}
UNKNOWN_STYLE = ("idle", "?")

PAUSE_REASON_LABELS: dict[str, str] = {
    PauseReason.OPERATOR: "paused by an operator",
    PauseReason.KILL_SWITCH: "Kill switch active",
    PauseReason.RETRY_DELAY: "waiting to retry",
    PauseReason.AWAITING_APPROVAL: "awaiting approval",
    PauseReason.DELAY: "waiting for a delay",
    PauseReason.STEP_FAILED: "a step failed and is held",
}


@register.inclusion_tag("engine/_status.html")
def status_badge(status: str) -> dict[str, Any]:
    tone, icon = STATUS_STYLES.get(status, UNKNOWN_STYLE)
    return {"status": status, "tone": tone, "icon": icon, "label": status.replace("_", " ")}


@register.filter
def pause_reason_label(reason: str) -> str:
    return PAUSE_REASON_LABELS.get(reason, reason.replace("_", " "))


def format_seconds(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


@register.simple_tag
def duration(start: datetime | None, end: datetime | None, running: bool = False) -> str:
    """From start to end; to now (so far) while `running`; a dash when it never started."""
    if start is None:
        return "—"
    if end is None:
        return f"{format_seconds(max((timezone.now() - start).total_seconds(), 0))} so far" if running else "—"
    return format_seconds(max((end - start).total_seconds(), 0))


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


@register.filter
def first_line(text: str) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


@register.filter
def result_summary(result: dict[str, Any] | None) -> list[tuple[str, str]]:
    """A step's `result` as short label/text pairs: the counters the engine keeps
    (hosts, jobs by status, canary, exit code, ...) read at a glance."""
    rows = []
    for key, value in sorted((result or {}).items()):
        if value is None or value == {} or value == []:
            continue
        rows.append((key.replace("_", " "), _summarize(key, value)))
    return rows


def _summarize(key: str, value: Any) -> str:
    if key == "jobs" and isinstance(value, dict):
        return ", ".join(f"{count} {status}" for status, count in sorted(value.items()))
    if key == "canary" and isinstance(value, dict):
        text = f"{value.get('hosts')} host(s), needs {value.get('threshold')}% — {value.get('state')}"
        return f"{text} ({value['success_rate']}% succeeded)" if "success_rate" in value else text
    if isinstance(value, dict | list):
        text = json.dumps(value, sort_keys=True, default=str)
        return text if len(text) <= 200 else f"{text[:199]}…"
    return str(value)
