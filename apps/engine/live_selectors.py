"""Reads for following an instance's log live (DESIGN §8): who may watch, stored lines
by seq, the current statuses. Used by the WebSocket consumer, the download's `follow`
and `manage.py tail`; org scoping goes through the engine's selectors."""

from __future__ import annotations

from typing import Any

from apps.accounts.models import Organization
from apps.accounts.roles import Perm
from apps.accounts.selectors import user_has_perm
from apps.engine import events
from apps.engine.models import StepExecution, WorkflowInstance
from apps.engine.selectors import instances_list
from apps.engine.states import INSTANCE_TERMINAL
from apps.jobs.logs import log_message
from apps.jobs.models import LogCursor, LogLine

PAGE_LINES = 1000
MESSAGE_FIELDS = ("seq", "step_id", "host", "stream", "ts", "line")


def instance_for_viewer(*, user: Any, organization: Organization, instance_id: int) -> WorkflowInstance | None:
    """The instance if `user` may read it in `organization` (`workflows.view`), else None."""
    if not user_has_perm(user=user, organization=organization, perm=Perm.WORKFLOWS_VIEW):
        return None
    return instances_list(organization=organization).select_related(None).only("id", "status").filter(
        pk=instance_id).first()


def log_messages(*, instance_id: int, after: int, until: int | None = None, limit: int = PAGE_LINES) -> list[dict]:
    """Stored lines with after < seq (<= until), oldest first, as DESIGN §8 `log` messages."""
    lines = LogLine.objects.filter(instance_id=instance_id, seq__gt=after)
    if until is not None:
        lines = lines.filter(seq__lte=until)
    rows = lines.order_by("seq").values_list(*MESSAGE_FIELDS)[:limit]
    return [log_message(seq=seq, step=step, host=host, stream=stream, ts=ts, line=line)
            for seq, step, host, stream, ts, line in rows]


def log_last_seq(*, instance_id: int) -> int:
    return LogCursor.objects.filter(instance_id=instance_id).values_list("last_seq", flat=True).first() or 0


def status_events(*, instance_id: int) -> list[dict[str, Any]]:
    """The instance's and its steps' current statuses, as the `instance` and `step` events
    a viewer receives when they change."""
    instance = WorkflowInstance.objects.only(
        "id", "status", "pause_reason", "error_class", "finished_at").filter(pk=instance_id).first()
    if instance is None:
        return []
    steps = StepExecution.objects.filter(instance_id=instance_id).order_by("id")
    return [events.instance_event(instance), *(events.step_event(step) for step in steps)]


def instance_ended(*, instance_id: int) -> bool:
    status = WorkflowInstance.objects.filter(pk=instance_id).values_list("status", flat=True).first()
    return status is None or status in INSTANCE_TERMINAL
