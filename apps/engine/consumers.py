"""The live log of one instance over a WebSocket (DESIGN §8, issue #6).

    /ws/instances/<id>/?after=<seq>[&tail=<n>][&batch=0]

Handshake: the client is a browser with its session or a client with
`Authorization: Token <key>` (apps.accounts.websocket); it acts in the organization
that apps.accounts.tenancy.scope_organization decides, must hold `workflows.view` there,
and the instance must belong to it. Otherwise the handshake is refused: no frame is sent.

Frames (JSON text), in this order:
1. the current statuses: one `{"type": "instance", ...}` and a `{"type": "step", ...}`
   per step, exactly the events of apps.engine.events;
2. the stored lines with seq > `after` (with `tail=n`: at most the last n of them), read
   from the database a page at a time, then `{"type": "replayed", "last_seq": N}`;
3. live: new lines, and `step` / `instance` events as they change.

Lines come as `{"type": "logs", "lines": [...]}` whose items are exactly DESIGN §8's
`log` messages (`{"type": "log", "seq", "step", "host", "stream", "ts", "line"}`); with
`batch=0` every line is a `log` frame of its own instead. Seqs are sent gap-free and
never twice: the consumer joins the instance's group before it replays, then forwards
only the seq after the last one sent. An older one (already replayed) is dropped; a jump
(channels-redis drops messages when a group's buffer is full) is filled from the
database first, where every line below a published seq is already committed
(apps.jobs.logs). Lines whose notification was lost at the very end are read on the next
`step` or `instance` event. Clients should still check seqs and backfill from
`GET /api/instances/{id}/logs/?after=` if one is ever missing.

The consumer holds no rule of its own: access and reads are apps.engine.live_selectors.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from apps.accounts.tenancy import scope_organization
from apps.core.errors import ApplicationError
from apps.engine.events import instance_group
from apps.engine.live_selectors import (
    PAGE_LINES,
    instance_for_viewer,
    log_last_seq,
    log_messages,
    status_events,
)

MAX_TAIL = 1_000_000
# Recently sent `logs` frames, shared by the viewers in this process (see _shared_frame).
SHARED_FRAMES = 64
_FRAMES: OrderedDict[tuple[int, int, int], str] = OrderedDict()
# The events after which stored lines are read again (see the module docstring).
CATCH_UP_EVENTS = frozenset({"step", "instance"})


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@database_sync_to_async
def _viewable_instance_id(scope: dict[str, Any], instance_id: int) -> int | None:
    user = scope.get("user")
    if user is None or not user.is_authenticated:
        return None
    try:
        organization = scope_organization(scope)
    except ApplicationError:
        return None
    instance = instance_for_viewer(user=user, organization=organization, instance_id=instance_id)
    return instance.pk if instance is not None else None


class StartError(ValueError):
    pass


def _start_params(query_string: bytes) -> tuple[int, int | None, bool]:
    params = parse_qs(query_string.decode("latin1"))

    def integer(name: str, low: int, high: int) -> int | None:
        values = params.get(name)
        if not values or values[-1] == "":
            return None
        try:
            value = int(values[-1])
        except ValueError:
            raise StartError(f"'{name}' must be an integer.") from None
        if not low <= value <= high:
            raise StartError(f"'{name}' must be between {low} and {high}.")
        return value

    after = integer("after", 0, 2**62) or 0
    tail = integer("tail", 1, MAX_TAIL)
    batch = params.get("batch", ["1"])[-1] not in ("0", "false")
    return after, tail, batch


class InstanceLogConsumer(AsyncWebsocketConsumer):
    instance_id: int
    last_seq: int = 0
    batch: bool = True
    group: str = ""

    async def connect(self) -> None:
        instance_id = int(self.scope["url_route"]["kwargs"]["instance_id"])
        if await _viewable_instance_id(self.scope, instance_id) is None:
            await self.close()  # before accept: the handshake is refused, nothing is sent
            return
        try:
            after, tail, self.batch = _start_params(self.scope.get("query_string", b""))
        except StartError as exc:
            await self.accept()
            await self.send(dumps({"type": "error", "detail": str(exc)}))
            await self.close(code=4400)
            return
        self.instance_id = instance_id
        self.group = instance_group(instance_id)
        # Joined before anything is read, so nothing committed from now on is missed.
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        for event in await database_sync_to_async(status_events)(instance_id=instance_id):
            await self.send(dumps(event))
        if tail is not None:
            after = max(after, await database_sync_to_async(log_last_seq)(instance_id=instance_id) - tail)
        self.last_seq = after
        await self.catch_up()
        await self.send(dumps({"type": "replayed", "last_seq": self.last_seq}))

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    # --- channel-layer messages (apps.jobs.publish, apps.engine.events) -------------------
    async def log_batch(self, message: dict[str, Any]) -> None:
        lines: list[dict[str, Any]] = message["lines"]
        if lines and lines[0]["seq"] == self.last_seq + 1 and lines[-1]["seq"] == self.last_seq + len(lines):
            # The usual case, the same for every viewer of the instance in this process:
            # its frame is serialized once for all of them.
            await self._send_lines(lines, frame=self._shared_frame(lines) if self.batch else None)
            return
        fresh: list[dict[str, Any]] = []
        for line in lines:
            last = fresh[-1]["seq"] if fresh else self.last_seq
            if line["seq"] <= last:
                continue  # sent already (replayed, or read on a catch-up)
            if line["seq"] > last + 1:  # messages were dropped: read what is missing
                await self._send_lines(fresh)
                fresh = []
                await self.catch_up(until=line["seq"] - 1)
                if line["seq"] <= self.last_seq:
                    continue
            fresh.append(line)
        await self._send_lines(fresh)

    async def engine_events(self, message: dict[str, Any]) -> None:
        events = message["events"]
        if any(event.get("type") in CATCH_UP_EVENTS for event in events):
            await self.catch_up()
        for event in events:
            await self.send(dumps(event))

    # --- sending ---------------------------------------------------------------------
    def _shared_frame(self, lines: list[dict[str, Any]]) -> str:
        """The `logs` frame of a run of consecutive lines. Every viewer receives its own
        copy of a group message, but a stored line never changes, so the lines from seq a
        to seq b of one instance always make the same frame: 20 viewers cost one
        serialization, not 20."""
        key = (self.instance_id, lines[0]["seq"], lines[-1]["seq"])
        frame = _FRAMES.get(key)
        if frame is None:
            frame = dumps({"type": "logs", "lines": lines})
            _FRAMES[key] = frame
            while len(_FRAMES) > SHARED_FRAMES:
                _FRAMES.popitem(last=False)
        return frame

    async def catch_up(self, until: int | None = None) -> None:
        """Send the stored lines after the last one sent (up to `until`), a page at a time."""
        while until is None or self.last_seq < until:
            page = await database_sync_to_async(log_messages)(
                instance_id=self.instance_id, after=self.last_seq, until=until, limit=PAGE_LINES
            )
            await self._send_lines(page)
            if len(page) < PAGE_LINES:
                return

    async def _send_lines(self, lines: list[dict[str, Any]], frame: str | None = None) -> None:
        if not lines:
            return
        if self.batch:
            await self.send(frame or dumps({"type": "logs", "lines": lines}))
        else:
            for line in lines:
                await self.send(dumps(line))
        self.last_seq = lines[-1]["seq"]
