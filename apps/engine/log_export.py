"""An instance's log as plain text: the download (`GET /api/instances/{id}/logs/download/`,
DESIGN §8) and `manage.py tail`.

Lines are read a page at a time by seq (keyset pagination: never the whole log in
memory, each query cheap however long the log). With `follow`, new lines are polled from
the database until the instance has ended; the status is read before each page, so the
lines committed before the end are all still read (a job's lines are stored before the
job finishes; the engine's own lines commit with the status).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse

from apps.engine.live_selectors import instance_ended
from apps.engine.models import WorkflowInstance
from apps.engine.selectors import log_lines

PAGE_LINES = 2000
FOLLOW_POLL_SECONDS = 0.5
FIELDS = ("seq", "ts", "step_id", "host", "stream", "line")
UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def text_line(ts: datetime, step: str, host: str, stream: str, line: str, *, raw: bool = False) -> str:
    """`2026-01-02T03:04:05.678Z [step/host] stream: text`, or the text alone (`raw`)."""
    if raw:
        return f"{line}\n"
    where = f"{step}/{host}" if host else step
    return f"{ts.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z [{where}] {stream}: {line}\n"


@dataclass
class LogReader:
    """Pages of an instance's lines after `after` that match the filters."""

    instance: WorkflowInstance
    after: int = 0
    filters: dict[str, Any] = field(default_factory=dict)  # step, host, stream, query
    raw: bool = False

    def page(self) -> str:
        lines = log_lines(instance=self.instance, after=self.after, **self.filters)
        rows = list(lines.values_list(*FIELDS)[:PAGE_LINES])
        if not rows:
            return ""
        self.after = rows[-1][0]
        return "".join(text_line(*row[1:], raw=self.raw) for row in rows)

    def ended(self) -> bool:
        return instance_ended(instance_id=self.instance.pk)


def text_pages(reader: LogReader, *, follow: bool, sleep: Any = time.sleep) -> Iterator[str]:
    while True:
        ended = follow and reader.ended()
        text = reader.page()
        if text:
            yield text
        elif not follow or ended:
            return
        else:
            sleep(FOLLOW_POLL_SECONDS)


async def atext_pages(reader: LogReader, *, follow: bool) -> AsyncIterator[str]:
    """text_pages for an ASGI server: Django would read a synchronous iterator to its end
    (into memory, and forever with `follow`) before sending a byte."""
    while True:
        ended = follow and await sync_to_async(reader.ended)()
        text = await sync_to_async(reader.page)()
        if text:
            yield text
        elif not follow or ended:
            return
        else:
            await asyncio.sleep(FOLLOW_POLL_SECONDS)


def download_filename(instance: WorkflowInstance, filters: dict[str, Any]) -> str:
    parts = [f"opsflow-run-{instance.pk}", filters.get("step") or "", filters.get("host") or ""]
    return "-".join(UNSAFE_FILENAME.sub("_", part) for part in parts if part) + ".log"


def download_response(request: HttpRequest, reader: LogReader, *, follow: bool) -> StreamingHttpResponse:
    if isinstance(request, ASGIRequest):
        pages: Any = atext_pages(reader, follow=follow)
    else:
        pages = text_pages(reader, follow=follow)
    response = StreamingHttpResponse(pages, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{download_filename(reader.instance, reader.filters)}"'
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"  # a proxy must pass `follow` output on as it comes
    return response
