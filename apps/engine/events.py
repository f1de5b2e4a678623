"""Status notifications to live viewers (DESIGN §8), sent after commit.

The channel layer is only a notification path: a viewer that misses a message reloads the
state from the API (the live-log consumer sends the current statuses on every connect),
so a failed send is logged and dropped, never retried here.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction


def instance_group(instance_id: int) -> str:
    return f"instance.{instance_id}"


def _send(instance_id: int, events: list[dict[str, Any]]) -> None:
    from apps.core.broadcast import group_send

    if events:
        # Not waited for: the sender thread merges a burst of events (a large fan-out's
        # job events) into few messages and logs a failed send.
        group_send(instance_group(instance_id), {"type": "engine.events", "events": events})


def publish(instance_id: int, events: list[dict[str, Any]]) -> None:
    if events:
        transaction.on_commit(partial(_send, instance_id, events))


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


def job_event(job: Any) -> dict[str, Any]:
    return {
        "type": "job",
        "job": job.pk,
        "step": job.step_id,
        "host": job.hostname,
        "attempt": job.attempt,
        "status": job.status,
        "exit_code": job.exit_code,
        "error_class": job.error_class,
    }


def instance_changed(instance: Any) -> None:
    publish(instance.pk, [instance_event(instance)])
