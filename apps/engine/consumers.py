"""The live log of one instance over a WebSocket (DESIGN §8, issue #6).

    /ws/instances/<id>/?after=<seq>[&tail=<n>][&batch=0]

Handshake: the client is a browser with its session or a client with
`Authorization: Token <key>` (apps.accounts.websocket); it acts in the organization
that apps.accounts.tenancy.scope_organization decides, must hold `workflows.view` there,
and the instance must belong to it. Otherwise the handshake is refused: no frame is sent.

Frames (JSON text), in this order:
1. the stored lines with seq > `after` (with `tail=n`: at most the last n of them), read
   from the database a page at a time (DESIGN §8: first the replay);
2. the statuses read just before those lines: one `{"type": "instance", ...}` and a
   `{"type": "step", ...}` per step, exactly the events of apps.engine.events; then
   `{"type": "replayed", "last_seq": N}`;
3. live: new lines, and `step` / `instance` events as they change.

A viewer that hears nothing for OPSFLOW_LIVE_RECHECK_SECONDS while the instance is active
re-reads the statuses and the last lines from the database and sends what changed: a
full channel layer drops messages, and the one dropped may be the very last event.

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

import asyncio
import json
from collections import OrderedDict
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from apps.accounts.tenancy import scope_organization
from apps.core.errors import ApplicationError
from apps.core.live import instance_group
from apps.engine.live_selectors import (
    PAGE_LINES,
    instance_for_viewer,
    log_last_seq,
    log_messages,
    status_events,
)
from apps.engine.states import INSTANCE_TERMINAL

MAX_TAIL = 1_000_000
# Recently sent `logs` frames, shared by the viewers in this process (see _shared_frame).
SHARED_FRAMES = 64
_FRAMES: OrderedDict[tuple[int, int, int], str] = OrderedDict()
# The events after which stored lines are read again (see the module docstring).
CATCH_UP_EVENTS = frozenset({"step", "instance"})


def _event_key(event: dict[str, Any]) -> tuple[str, str]:
    return event.get("type", ""), event.get("step", "")


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
    _recheck: asyncio.Task[None] | None = None
    _heard_at: float = 0.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The last `instance` and `step` events sent, by ("instance", "") / ("step", id).
        self._sent: dict[tuple[str, str], dict[str, Any]] = {}
        # Channel messages are handled one at a time; the recheck task takes turns with them.
        self._sending = asyncio.Lock()

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
        # The statuses are read before the lines and sent after them: every line committed
        # before a terminal status was read is replayed ahead of it, so a client that stops
        # at the instance's ending has the whole log (lines committed later come live).
        statuses = await database_sync_to_async(status_events)(instance_id=instance_id)
        if tail is not None:
            after = max(after, await database_sync_to_async(log_last_seq)(instance_id=instance_id) - tail)
        self.last_seq = after
        await self.catch_up()
        for event in statuses:
            await self._send_event(event)
        await self.send(dumps({"type": "replayed", "last_seq": self.last_seq}))
        self._heard_at = asyncio.get_running_loop().time()
        self._recheck = asyncio.create_task(self._recheck_while_active())

    async def disconnect(self, code: int) -> None:
        if self._recheck is not None:
            self._recheck.cancel()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    # --- the database as the fallback of the channel layer ---------------------------
    async def _recheck_while_active(self) -> None:
        interval = settings.OPSFLOW_LIVE_RECHECK_SECONDS
        while not self._ended():
            await asyncio.sleep(interval)
            if asyncio.get_running_loop().time() - self._heard_at < interval:
                continue  # messages are flowing: nothing was lost that they will not reveal
            async with self._sending:
                await self.catch_up()
                current = await database_sync_to_async(status_events)(instance_id=self.instance_id)
                # Steps before the instance, as the engine publishes them: a client that
                # stops at the instance's ending has its steps' endings already.
                for event in sorted(current, key=lambda event: event.get("type") == "instance"):
                    if self._sent.get(_event_key(event)) != event:
                        await self._send_event(event)

    def _ended(self) -> bool:
        return (self._sent.get(("instance", "")) or {}).get("status") in INSTANCE_TERMINAL

    async def _send_event(self, event: dict[str, Any]) -> None:
        if event.get("type") in CATCH_UP_EVENTS:
            self._sent[_event_key(event)] = event
        await self.send(dumps(event))

    # --- channel-layer messages (apps.jobs.publish, apps.engine.events) -------------------
    async def log_batch(self, message: dict[str, Any]) -> None:
        self._heard_at = asyncio.get_running_loop().time()
        async with self._sending:
            await self._forward_lines(message["lines"])

    async def _forward_lines(self, lines: list[dict[str, Any]]) -> None:
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
        self._heard_at = asyncio.get_running_loop().time()
        events = message["events"]
        async with self._sending:
            if any(event.get("type") in CATCH_UP_EVENTS for event in events):
                await self.catch_up()
            for event in events:
                await self._send_event(event)

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
