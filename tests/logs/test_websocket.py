"""The live-log WebSocket (DESIGN §8): replay then live with no gap and no duplicate,
backfill after the channel layer dropped messages, status events (who may connect:
test_websocket_access.py)."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from unittest import mock

import pytest
from channels.db import database_sync_to_async
from django.db import connections
from django.utils import timezone

from apps.core import live
from apps.core.live import instance_group
from apps.engine.consumers import InstanceLogConsumer
from apps.engine.models import StepExecution, WorkflowInstance
from apps.jobs.models import LogLine
from tests.logs.conftest import append, play, token_for

pytestmark = pytest.mark.django_db(transaction=True)


# --- replay and live ---------------------------------------------------------------------------


def test_replay_is_paged_and_the_seam_has_no_gap_or_duplicate(instance, ws_client, viewer_user, monkeypatch):
    """Lines keep coming while the client replays a long log: every seq exactly once."""
    monkeypatch.setattr("apps.engine.consumers.PAGE_LINES", 100)
    append(instance, 2500)
    token = token_for(viewer_user)
    stop = threading.Event()

    def writer():
        try:
            n = 0
            while not stop.is_set() and n < 60:
                append(instance, 7, start=10_000 + n * 7)
                n += 1
        finally:
            connections.close_all()

    async def scenario():
        client = ws_client(instance, token=token, origin=None)
        assert await client.connect()
        thread = threading.Thread(target=writer)
        thread.start()
        await client.until(lambda frame: frame["type"] == "replayed", timeout=30)
        replay_frames = [frame for frame in client.frames if frame["type"] == "logs"]
        assert len(replay_frames) >= 25 and max(len(frame["lines"]) for frame in replay_frames) <= 100
        await database_sync_to_async(thread.join)()
        total = await database_sync_to_async(LogLine.objects.filter(instance=instance).count)()
        await client.until_seq(total, timeout=20)
        assert client.seqs == list(range(1, total + 1))
        await client.close()

    try:
        play(scenario)
    finally:
        stop.set()


def test_a_viewer_of_a_quiet_instance_survives_the_blocking_receive_timeout(instance, ws_client, viewer_user):
    """channels-redis waits 5 s per blocking receive; a socket timeout as short (redis-py
    8's default) killed idle consumers (config/settings.py sets a longer one)."""
    token = token_for(viewer_user)

    async def scenario():
        client = ws_client(instance, token=token, origin=None)
        assert await client.connect()
        await client.until(lambda frame: frame["type"] == "replayed")
        await asyncio.sleep(7)
        await database_sync_to_async(append)(instance, 1)
        await client.until_seq(1)
        await client.close()

    play(scenario)


def test_tail_replays_only_the_last_lines_and_batch_0_sends_log_frames(instance, ws_client, viewer_user):
    append(instance, 50)
    token = token_for(viewer_user)

    async def scenario():
        client = ws_client(instance, token=token, origin=None, query="tail=3&batch=0")
        assert await client.connect()
        await client.until(lambda frame: frame["type"] == "replayed")
        assert [frame["type"] for frame in client.frames if frame["type"] in ("log", "logs")] == ["log"] * 3
        assert client.seqs == [48, 49, 50]
        await database_sync_to_async(append)(instance, 2, start=50)
        await client.until_seq(52)
        assert client.seqs == [48, 49, 50, 51, 52]
        await client.close()

    play(scenario)


def test_a_gap_in_the_live_stream_is_filled_from_the_database(instance, ws_client, viewer_user):
    """A published batch whose predecessors were never delivered (lost messages)."""
    token = token_for(viewer_user)

    async def scenario():
        client = ws_client(instance, token=token, origin=None)
        assert await client.connect()
        await client.until(lambda frame: frame["type"] == "replayed")
        # Stored but never published: as if the channel layer had dropped the message.
        await database_sync_to_async(_append_unpublished)(instance, 40)
        await database_sync_to_async(append)(instance, 2, start=40)
        await client.until_seq(42)
        assert client.seqs == list(range(1, 43))
        # A message that arrives late (after its lines were backfilled) is not sent twice.
        from channels.layers import get_channel_layer
        old = await database_sync_to_async(_messages)(instance, 1, 5)
        await get_channel_layer().group_send(instance_group(instance.pk), {"type": "log.batch", "lines": old})
        await database_sync_to_async(append)(instance, 1, start=42)
        await client.until_seq(43)
        assert client.seqs == list(range(1, 44))
        await client.close()

    play(scenario)


def test_a_full_channel_layer_drops_messages_and_the_viewer_still_gets_every_line(
    instance, ws_client, viewer_user, settings, caplog, monkeypatch
):
    """channels-redis with capacity 2 and a slow ws_client: while it works, 30 batches are
    published and Redis drops most of them. The next batch reveals the gap, which the
    consumer reads from the database."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": settings.REDIS_URL, "socket_timeout": 15}],
                       "prefix": f"opsflow-test-{uuid.uuid4().hex[:8]}", "capacity": 2},
        }
    }
    send_lines = InstanceLogConsumer._send_lines

    async def slow_send_lines(self, lines, frame=None):
        await asyncio.sleep(0.05)
        await send_lines(self, lines, frame)

    monkeypatch.setattr(InstanceLogConsumer, "_send_lines", slow_send_lines)
    token = token_for(viewer_user)
    caplog.set_level(logging.INFO, logger="channels_redis.core")

    def burst():
        for n in range(30):
            append(instance, 10, start=n * 10)

    async def scenario():
        client = ws_client(instance, token=token, origin=None)
        assert await client.connect()
        await client.until(lambda frame: frame["type"] == "replayed")
        await database_sync_to_async(burst)()
        await asyncio.sleep(1)  # the consumer works through what Redis kept
        await database_sync_to_async(append)(instance, 5, start=300)
        await client.until_seq(305)
        assert client.seqs == list(range(1, 306))
        await client.close()

    play(scenario)
    assert "channels over capacity" in caplog.text  # messages really were dropped


def test_status_events_are_forwarded_and_read_the_last_lines_first(instance, ws_client, viewer_user):
    token = token_for(viewer_user)

    async def scenario():
        client = ws_client(instance, token=token, origin=None)
        assert await client.connect()
        await client.until(lambda frame: frame["type"] == "replayed")
        # The last lines' notification is lost; then the step finishes.
        await database_sync_to_async(_append_unpublished)(instance, 3)
        await database_sync_to_async(_finish_step)(instance)
        await client.until(lambda frame: frame["type"] == "instance" and frame["status"] == "succeeded")
        types = [frame["type"] for frame in client.frames[client.frames.index({"type": "replayed", "last_seq": 0}):]]
        assert types == ["replayed", "logs", "step", "instance"]
        assert client.seqs == [1, 2, 3]
        step = next(frame for frame in client.frames if frame["type"] == "step" and frame["status"] == "succeeded")
        assert step["step"] == "plan"
        await client.close()

    play(scenario)


def test_a_lost_last_event_is_recovered_from_the_database(instance, ws_client, viewer_user, settings):
    """The channel layer dropped the run's last lines and its ending (nothing is published
    here at all): a quiet viewer re-reads them after OPSFLOW_LIVE_RECHECK_SECONDS."""
    settings.OPSFLOW_LIVE_RECHECK_SECONDS = 0.2
    token = token_for(viewer_user)

    def end_silently() -> None:
        _append_unpublished(instance, 2)
        now = timezone.now()
        StepExecution.objects.filter(instance=instance).update(status="succeeded", finished_at=now)
        WorkflowInstance.objects.filter(pk=instance.pk).update(status="succeeded", finished_at=now)

    async def scenario():
        client = ws_client(instance, token=token, origin=None)
        assert await client.connect()
        await client.until(lambda frame: frame["type"] == "replayed")
        await database_sync_to_async(end_silently)()
        await client.until(lambda frame: frame["type"] == "instance" and frame["status"] == "succeeded", timeout=5)
        after = client.frames[client.frames.index({"type": "replayed", "last_seq": 0}) + 1:]
        assert [frame["type"] for frame in after] == ["logs", "step", "instance"]  # only what changed
        assert client.seqs == [1, 2]
        assert await client.communicator.receive_nothing(timeout=0.6)  # ended: no more rechecks, nothing twice
        await client.close()

    play(scenario)


def test_operator_controls_are_seen_live(instance, ws_client, viewer_user):
    """A control's own transition reaches viewers at once, not at the next engine change."""
    from apps.engine.controls import instance_cancel, instance_pause, instance_resume

    token = token_for(viewer_user)
    ids = {"instance_id": instance.pk, "organization_id": instance.organization_id, "actor": viewer_user}

    def status(frame, value):
        return frame["type"] == "instance" and frame["status"] == value

    async def scenario():
        client = ws_client(instance, token=token, origin=None)
        assert await client.connect()
        await client.until(lambda frame: frame["type"] == "replayed")
        await database_sync_to_async(instance_pause)(**ids, reason="maintenance window")
        await client.until(lambda frame: status(frame, "paused") and frame["pause_reason"] == "operator")
        await database_sync_to_async(instance_resume)(**ids)
        await client.until(lambda frame: status(frame, "running"))
        await database_sync_to_async(instance_cancel)(**ids, mode="force")
        await client.until(lambda frame: status(frame, "force_canceling"))
        await client.close()

    play(scenario)


# --- helpers ------------------------------------------------------------------------------------


def _append_unpublished(instance: WorkflowInstance, count: int) -> None:
    with mock.patch("apps.jobs.logs._publish"):
        append(instance, count, start=LogLine.objects.filter(instance=instance).count())


def _messages(instance: WorkflowInstance, first: int, last: int) -> list[dict]:
    from apps.engine.live_selectors import log_messages

    return log_messages(instance_id=instance.pk, after=first - 1, until=last)


def _finish_step(instance: WorkflowInstance) -> None:
    from django.db import transaction
    from django.utils import timezone

    from apps.engine import events

    with transaction.atomic():
        step = StepExecution.objects.get(instance=instance, step_id="plan")
        step.status, step.finished_at = "succeeded", timezone.now()
        step.save()
        WorkflowInstance.objects.filter(pk=instance.pk).update(status="succeeded", finished_at=timezone.now())
        instance.refresh_from_db()
        live.publish(instance.pk, [events.step_event(step), events.instance_event(instance)])
