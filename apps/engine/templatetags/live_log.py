"""Template helpers of the instance page's log panel (templates/engine/detail/_log.html)."""

from __future__ import annotations

import re
from typing import Any

from django import template
from django.utils.html import json_script

from apps.engine.templatetags.engine_ui import STATUS_STYLES, UNKNOWN_STYLE

register = template.Library()

# Terminal escape sequences: colours (SGR), cursor movement and other CSI sequences,
# OSC titles and links, charset switches; and other control characters but the tab.
ANSI_SEQUENCE = re.compile(
    r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]|\x1b"
    r"|[\x00-\x08\x0b-\x1f\x7f]"
)


@register.filter
def strip_ansi(text: str) -> str:
    """The text without terminal escape codes (the page without JavaScript shows no colours)."""
    return ANSI_SEQUENCE.sub("", text) if text else text


@register.simple_tag
def status_styles_json(element_id: str) -> str:
    """STATUS_STYLES for the live client, so a status changed live gets the badge the
    server would render (tone, icon, words)."""
    styles = {status: {"tone": tone, "icon": icon} for status, (tone, icon) in STATUS_STYLES.items()}
    styles[""] = {"tone": UNKNOWN_STYLE[0], "icon": UNKNOWN_STYLE[1]}
    return json_script(styles, element_id)


@register.filter
def job_hosts(step: Any) -> list[str]:
    """The hostnames of the step's shown jobs, once each, in order."""
    return list(dict.fromkeys(job.hostname for job in getattr(step, "shown_jobs", None) or []))
