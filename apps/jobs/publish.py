"""Telling live viewers about stored log lines (DESIGN §8, issue 6 item 1).

One channel-layer message per append (a burst of lines is one `log.batch`, not one
message per line: channels-redis manages only a few thousand group sends per second).
The channel layer is only a notification path: it drops messages when a group is full,
and a viewer that sees a gap in `seq` backfills from the database. So a failed send is
logged and dropped, never retried.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from apps.engine.events import instance_group
from apps.jobs.logs import line_message
from apps.jobs.models import LogLine

logger = logging.getLogger(__name__)

# Very long lines are split into several messages so that no single one gets huge.
MAX_MESSAGE_CHARS = 512 * 1024


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


def publish_lines(instance_id: int, rows: Sequence[LogLine]) -> None:
    layer = get_channel_layer()
    if layer is None or not rows:
        return
    group = instance_group(instance_id)
    try:
        for chunk in _chunks([line_message(row) for row in rows]):
            async_to_sync(layer.group_send)(group, {"type": "log.batch", "lines": chunk})
    except Exception:  # the database is the source of truth; viewers backfill by seq
        logger.warning("could not publish %d log lines of instance %s", len(rows), instance_id, exc_info=True)
