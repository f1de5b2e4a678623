"""The engine's status events for live viewers (DESIGN §8): a step's and an instance's,
sent after commit through the instance's live channel (apps.core.live)."""

from __future__ import annotations

from typing import Any

from apps.core.live import publish


def step_event(step: Any) -> dict[str, Any]:
    return {
        "type": "step",
        "step": step.step_id,
        "status": step.status,
        "attempt": step.attempt,
        "wait_reason": step.wait_reason,
        "error_class": step.error_class,
        "started_at": step.started_at.isoformat() if step.started_at else None,
        "finished_at": step.finished_at.isoformat() if step.finished_at else None,
    }


def instance_event(instance: Any) -> dict[str, Any]:
    return {
        "type": "instance",
        "status": instance.status,
        "pause_reason": instance.pause_reason,
        "error_class": instance.error_class,
        "finished_at": instance.finished_at.isoformat() if instance.finished_at else None,
    }


def instance_changed(instance: Any) -> None:
    publish(instance.pk, [instance_event(instance)])
