"""An instance's live channel (DESIGN §8): its channel-layer group, by name, and status
events sent to it after commit. Here, below the apps, so that the engine (steps, instance)
and jobs (jobs, log lines) tell the same viewers without jobs importing the engine.

The channel layer is only a notification path: a viewer that misses a message reloads the
state from the API (the live-log consumer sends the current statuses on every connect),
so a failed send is logged and dropped, never retried here.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction

from apps.core.broadcast import group_send


def instance_group(instance_id: int) -> str:
    return f"instance.{instance_id}"


def _send(instance_id: int, events: list[dict[str, Any]]) -> None:
    if events:
        # Not waited for: the sender thread merges a burst of events (a large fan-out's
        # job events) into few messages and logs a failed send.
        group_send(instance_group(instance_id), {"type": "engine.events", "events": events})


def publish(instance_id: int, events: list[dict[str, Any]]) -> None:
    """Send status events (`step`, `instance`, `job`) to the instance's viewers after commit."""
    if events:
        transaction.on_commit(partial(_send, instance_id, events))
