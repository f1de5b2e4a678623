"""apps.core.broadcast: one sender thread per process, order kept, bursts merged."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from apps.core import broadcast
from apps.core.broadcast import MAX_MERGED_ITEMS, _Item, group_send, merge


def lines(first: int, count: int) -> list[dict]:
    return [{"seq": seq, "line": f"l{seq}"} for seq in range(first, first + count)]


def test_consecutive_messages_of_one_type_to_one_group_are_merged_in_order():
    items = [
        _Item("instance.1", {"type": "log.batch", "lines": lines(1, 2)}),
        _Item("instance.1", {"type": "log.batch", "lines": lines(3, 2)}),
        _Item("instance.2", {"type": "log.batch", "lines": lines(1, 1)}),
        _Item("instance.1", {"type": "engine.events", "events": [{"type": "step"}]}),
        _Item("instance.1", {"type": "engine.events", "events": [{"type": "instance"}]}),
        _Item("instance.1", {"type": "log.batch", "lines": lines(5, 1)}),
        _Item("instance.1", {"type": "other", "x": 1}),
        _Item("instance.1", {"type": "other", "x": 2}),
    ]

    merged = merge(items)

    assert [(item.group, item.message["type"]) for item in merged] == [
        ("instance.1", "log.batch"), ("instance.2", "log.batch"), ("instance.1", "engine.events"),
        ("instance.1", "log.batch"), ("instance.1", "other"), ("instance.1", "other"),
    ]
    assert [line["seq"] for line in merged[0].message["lines"]] == [1, 2, 3, 4]
    assert merged[2].message["events"] == [{"type": "step"}, {"type": "instance"}]
    assert items[0].message["lines"] == lines(1, 2)  # the originals are not changed


def test_merged_messages_stay_bounded():
    items = [_Item("g", {"type": "log.batch", "lines": lines(n * 1000, 1000)}) for n in range(12)]

    merged = merge(items)

    assert all(len(item.message["lines"]) <= MAX_MERGED_ITEMS for item in merged)
    assert [line["seq"] for item in merged for line in item.message["lines"]] == list(range(12_000))


@pytest.mark.django_db(transaction=True)
def test_messages_reach_the_group_in_order_and_failures_are_raised_to_a_waiting_sender(monkeypatch):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("broadcast-test", channel)
    for n in range(20):
        group_send("broadcast-test", {"type": "log.batch", "lines": lines(n * 10, 10)})
    group_send("broadcast-test", {"type": "log.batch", "lines": lines(200, 1)}, wait=5)

    async def receive_all() -> list[int]:
        # One event loop for every receive: channels-redis puts a message it handed out back
        # on the channel if its loop ended before the message was acknowledged.
        received: list[int] = []
        while len(received) < 201:
            received += [line["seq"] for line in (await layer.receive(channel))["lines"]]
        return received

    assert async_to_sync(receive_all)() == list(range(201))

    async def broken(group, message):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(layer, "group_send", broken)
    with pytest.raises(ConnectionError):
        group_send("broadcast-test", {"type": "log.batch", "lines": lines(1, 1)}, wait=5)
    assert broadcast.broadcaster._pid is not None
