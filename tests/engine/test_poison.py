"""A poison message (issue #13, item 4): an advance that takes its worker process down on
every delivery would be redelivered by Celery for ever (acks_late, reject_on_worker_lost).
The engine counts the deliveries that never returned and fails the instance with
WorkerLost after MAX_LOST_DELIVERIES instead of looping."""

from __future__ import annotations

import pytest

from apps.core import wake
from apps.core.messaging import redis_client
from apps.engine import tasks as engine_tasks
from apps.engine.models import StepExecution
from apps.jobs.models import Job, JobStatus

pytestmark = pytest.mark.django_db(transaction=True)


def deliveries_key(instance) -> str:
    return f"opsflow:advance-deliveries:{instance.pk}"


@pytest.fixture
def advances(monkeypatch) -> list[int]:
    calls: list[int] = []
    monkeypatch.setattr(engine_tasks, "advance", calls.append)
    return calls


@pytest.fixture
def running(make_workflow, run, localhost, monkeypatch):
    # Only this test delivers the advance (a worker of another test in this process must not).
    monkeypatch.setattr(wake, "advance_send", lambda instance_id: None)
    definition = make_workflow([{"id": "crash", "type": "command", "config": {"command": "sleep 30"}}])
    instance = run(definition, hosts=[localhost.pk])
    redis_client().delete(deliveries_key(instance))
    return instance


def test_a_delivery_that_returns_clears_the_count(running, advances):
    client = redis_client()
    client.set(deliveries_key(running), engine_tasks.MAX_LOST_DELIVERIES - 1)  # earlier deaths

    engine_tasks.instance_advance.apply(args=[running.pk]).get()

    assert advances == [running.pk]
    assert client.get(deliveries_key(running)) is None


def test_an_advance_that_raises_is_not_a_lost_delivery(running, monkeypatch):
    def broken(instance_id: int) -> None:
        raise RuntimeError("a bug, not a dead worker")

    monkeypatch.setattr(engine_tasks, "advance", broken)
    for _ in range(engine_tasks.MAX_LOST_DELIVERIES + 2):
        engine_tasks.instance_advance.apply(args=[running.pk])

    running.refresh_from_db()
    assert running.status not in ("failed",)
    assert redis_client().get(deliveries_key(running)) is None


def test_after_too_many_lost_deliveries_the_instance_fails_worker_lost(running, advances, localhost):
    from apps.engine.advance import advance

    advance(running.pk)  # the step starts: a job is queued for the host
    client = redis_client()
    client.set(deliveries_key(running), engine_tasks.MAX_LOST_DELIVERIES)  # five deliveries died in it

    engine_tasks.instance_advance.apply(args=[running.pk]).get()

    assert advances == []  # not tried a sixth time
    running.refresh_from_db()
    assert (running.status, running.error_class) == ("failed", "WorkerLost")
    assert "took its engine worker process down 5 times" in running.error_message
    assert not Job.objects.filter(instance=running, status=JobStatus.QUEUED).exists()
    step = StepExecution.objects.get(instance=running, step_id="crash")
    assert step.status != "running"

    engine_tasks.instance_advance.apply(args=[running.pk]).get()  # redelivered again: dropped
    assert advances == []
