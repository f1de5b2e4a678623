"""Telling live viewers about stored log lines and job statuses (DESIGN §8, issue 6 item 1).

Called after commit (apps.jobs.logs.log_append's on_commit). One channel-layer message
per append: a burst of lines is one `log.batch` of `log` messages, split only when it
gets very large, never one message per line (channels-redis manages only a few thousand
group sends per second). The channel layer is only a notification path: it drops
messages when a group is full, and a viewer that sees a gap in `seq` backfills from the
database. So a failed send is logged and dropped, never retried.

The sender waits (briefly) for its message to be handed to Redis: a jobs worker that
produces output faster than Redis takes it slows down instead of queueing without end,
and one job's batches reach viewers in seq order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from apps.core.broadcast import group_send
from apps.core.live import instance_group

logger = logging.getLogger(__name__)

# Very long batches are split into several messages so that no single one gets huge.
MAX_MESSAGE_CHARS = 512 * 1024
SEND_TIMEOUT_SECONDS = 2.0


def _chunks(lines: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    size = 0
    for line in lines:
        if chunk and size + len(line["line"]) > MAX_MESSAGE_CHARS:
            yield chunk
            chunk, size = [], 0
        chunk.append(line)
        size += len(line["line"])
    if chunk:
        yield chunk


def publish_lines(instance_id: int, lines: list[dict[str, Any]]) -> None:
    """Send stored lines (DESIGN §8 `log` messages, in seq order) to the instance's viewers."""
    if not lines:
        return
    group = instance_group(instance_id)
    try:
        for chunk in _chunks(lines):
            group_send(group, {"type": "log.batch", "lines": chunk}, wait=SEND_TIMEOUT_SECONDS)
    except Exception:  # the database is the source of truth; viewers backfill by seq
        logger.warning("could not publish %d log lines of instance %s", len(lines), instance_id, exc_info=True)


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
