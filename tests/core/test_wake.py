"""Waking an instance by task name after commit (apps.core.wake, issue 14): published to
the real Redis broker; the messages are seen as Celery publishes them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from celery.signals import before_task_publish
from django.db import transaction

from apps.core import wake
from apps.core.messaging import redis_client

pytestmark = pytest.mark.django_db(transaction=True)

NO_INSTANCE = 2_000_000_000  # no such row: a worker that takes the message finds nothing to do


@pytest.fixture
def published() -> Iterator[list[tuple[str, str, list, float | None]]]:
    """(task name, routing key, args, countdown) of every message this test publishes."""
    seen: list[tuple[str, str, list, float | None]] = []

    def record(sender=None, body=None, routing_key=None, headers=None, **kwargs):
        args = list(body[0]) if body else []
        if args and args[0] in (NO_INSTANCE, NO_INSTANCE + 1):
            seen.append((sender, routing_key, args, headers.get("eta")))

    before_task_publish.connect(record, weak=False)
    redis_client().delete(wake.advance_hint_key(NO_INSTANCE))
    yield seen
    before_task_publish.disconnect(record)
    redis_client().delete(wake.advance_hint_key(NO_INSTANCE))


def test_a_wake_sends_the_advance_by_name_after_commit(published):
    with transaction.atomic():
        wake.instance_wake(NO_INSTANCE)
        assert published == []  # never before the commit (DESIGN §3)

    assert published == [("apps.engine.tasks.instance_advance", "engine", [NO_INSTANCE], None)]


def test_a_burst_of_wakes_sends_one_advance_until_the_advance_starts(monkeypatch):
    # Counted where the message is sent, not as the broker sees it: a worker of another
    # test in this process may take a published advance and start it (clearing the key),
    # and then a second message is right.
    sent: list[int] = []
    monkeypatch.setattr(wake, "advance_send", sent.append)
    redis_client().delete(wake.advance_hint_key(NO_INSTANCE))
    with transaction.atomic():
        for _ in range(3):
            wake.instance_wake(NO_INSTANCE)
        assert sent == []
    assert sent == [NO_INSTANCE]

    wake.instance_wake(NO_INSTANCE)  # the advance has not started yet: still one message
    assert sent == [NO_INSTANCE]

    redis_client().delete(wake.advance_hint_key(NO_INSTANCE))  # what the advance does when it starts
    wake.instance_wake(NO_INSTANCE)
    assert sent == [NO_INSTANCE, NO_INSTANCE]
    redis_client().delete(wake.advance_hint_key(NO_INSTANCE))


def test_a_rolled_back_wake_sends_nothing(published):
    with pytest.raises(RuntimeError), transaction.atomic():
        wake.instance_wake(NO_INSTANCE)
        raise RuntimeError("the write failed")
    wake.instance_wake(None)  # an instance without a parent, say
    assert published == []


def test_a_timer_due_within_seconds_fires_by_name_after_commit(published):
    with transaction.atomic():
        wake.timer_wake(NO_INSTANCE + 1, countdown=2)
        assert published == []
    [(name, queue, args, eta)] = published
    assert (name, queue, args) == ("apps.engine.tasks.timer_fire_task", "engine", [NO_INSTANCE + 1])
    assert eta is not None
