"""A real Celery worker for the whole test session: every queue, a thread pool, real
Redis, and a beat-like sweeper thread. Tests that use it take the `worker` fixture (and
`transaction=True` through it, so the worker's own connections see what a test wrote);
they belong to xdist group "worker" so one process hosts the one worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import connections
from django.db.models import Q

from apps.engine.models import WorkflowInstance
from config.celery import app

QUEUES = ["engine", "default", "jobs"]
SWEEP_EVERY_SECONDS = 0.5
# Set between tests: the table flush after a test must not race the worker's queries.
_between_tests = threading.Event()
# Set once this process hosts the session's worker.
_running = threading.Event()


def _sweeper(stop: threading.Event) -> None:
    """What beat does in production: send the sweep tasks on a fixed tick."""
    from apps.engine.tasks import sweep
    from apps.jobs.tasks import jobs_sweep

    tick = 0
    while not stop.wait(SWEEP_EVERY_SECONDS):
        if _between_tests.is_set():
            continue
        sweep.delay()
        tick += 1
        if tick % 4 == 0:
            jobs_sweep.delay()


@pytest.fixture(scope="session")
def engine_worker(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Any]:
    settings.OPSFLOW_JOBS_DIR = tmp_path_factory.mktemp("jobs")
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()  # no messages left by other tests
    with django_db_blocker.unblock():
        with start_worker(
            app, queues=QUEUES, pool="threads", concurrency=6, perform_ping_check=False, shutdown_timeout=30
        ) as worker:
            stop = threading.Event()
            sweeper = threading.Thread(target=_sweeper, args=(stop,), name="sweeper", daemon=True)
            sweeper.start()
            _running.set()
            yield worker
            _running.clear()
            stop.set()
            sweeper.join()
        with connections["default"].cursor() as cursor:  # the worker threads' sessions
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture
def worker(engine_worker, transactional_db) -> Iterator[Any]:
    _between_tests.clear()
    yield engine_worker
    _stop_leftovers()
    _between_tests.set()
    _wait_idle()


def settle_after_other_tests(item: pytest.Item) -> None:
    """A test without the `worker` fixture may still have queued tasks (a control it called
    dispatched an advance): if this process hosts the worker, let it finish them before the
    table flush, which would otherwise deadlock with the worker's writes."""
    if _running.is_set() and "worker" not in item.fixturenames:
        _wait_idle()


def _wait_idle(timeout: float = 15) -> None:
    """No message queued and no task running: the worker holds no lock the flush needs."""
    from celery.worker import state

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not state.active_requests and not any(broker.llen(queue) for queue in QUEUES):
            return
        time.sleep(0.05)


def _stop_leftovers() -> None:
    """Kill what a test left running, so the table flush after it does not race the worker."""
    from apps.engine.controls import instance_cancel
    from apps.engine.states import INSTANCE_TERMINAL
    from apps.jobs.models import JOB_ACTIVE, Job

    # Also canceled runs whose force cancel left a job running (a kill is allowed on those).
    leftovers = WorkflowInstance.objects.filter(parent=None).filter(
        ~Q(status__in=INSTANCE_TERMINAL) | Q(status="canceled", jobs__status__in=JOB_ACTIVE)
    ).distinct()
    for instance in leftovers:
        instance_cancel(instance_id=instance.pk, organization_id=instance.organization_id, actor=None, mode="kill")
    quiet = time.monotonic() + 15
    while time.monotonic() < quiet and (
        Job.objects.filter(status__in=JOB_ACTIVE).exists()
        or WorkflowInstance.objects.exclude(status__in=INSTANCE_TERMINAL).exists()
    ):
        time.sleep(0.1)
