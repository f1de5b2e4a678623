"""End-to-end engine fixtures: a real Celery worker (threads, every queue) on real Redis,
a beat-like sweeper thread, real Postgres, and helpers to start and watch instances.

The worker lives for the whole test session; each test uses `transaction=True` so that
the worker's own database connections see what the test wrote.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import connections

from apps.engine.models import StepExecution, WorkflowInstance
from config.celery import app

QUEUES = ["engine", "default", "jobs"]
SWEEP_EVERY_SECONDS = 0.5


def _sweeper(stop: threading.Event) -> None:
    """What beat does in production: send the sweep tasks on a fixed tick."""
    from apps.engine.tasks import sweep
    from apps.jobs.tasks import jobs_sweep

    tick = 0
    while not stop.wait(SWEEP_EVERY_SECONDS):
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
            yield worker
            stop.set()
            sweeper.join()
        with connections["default"].cursor() as cursor:  # the worker threads' sessions
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture
def worker(engine_worker, transactional_db) -> Iterator[Any]:
    yield engine_worker
    _stop_leftovers()


def _stop_leftovers() -> None:
    """Kill what a test left running, so the table flush after it does not race the worker."""
    from apps.engine.controls import instance_cancel
    from apps.engine.states import INSTANCE_TERMINAL
    from apps.jobs.models import JOB_ACTIVE, Job

    for instance in WorkflowInstance.objects.exclude(status__in=INSTANCE_TERMINAL).filter(parent=None):
        instance_cancel(instance_id=instance.pk, organization_id=instance.organization_id, actor=None, mode="kill")
    quiet = time.monotonic() + 15
    while time.monotonic() < quiet and (
        Job.objects.filter(status__in=JOB_ACTIVE).exists()
        or WorkflowInstance.objects.exclude(status__in=INSTANCE_TERMINAL).exists()
    ):
        time.sleep(0.1)


def wait_for(
    instance: WorkflowInstance,
    *,
    status: str | set[str] | None = None,
    step: str | None = None,
    step_status: str | set[str] | None = None,
    timeout: float = 45,
) -> WorkflowInstance:
    """Poll the database until the instance (or one of its steps) reaches a status."""
    wanted = {status} if isinstance(status, str) else status
    wanted_step = {step_status} if isinstance(step_status, str) else step_status
    deadline = time.monotonic() + timeout
    while True:
        instance.refresh_from_db()
        ok = wanted is None or instance.status in wanted
        if ok and step is not None:
            execution = StepExecution.objects.filter(instance=instance, step_id=step).first()
            ok = execution is not None and (wanted_step is None or execution.status in wanted_step)
        if ok:
            return instance
        if time.monotonic() > deadline:
            steps = list(
                StepExecution.objects.filter(instance=instance).values_list("step_id", "status", "error_message")
            )
            raise AssertionError(
                f"instance {instance.pk} is {instance.status} ({instance.pause_reason}); wanted "
                f"{wanted} / {step}={wanted_step}; steps: {steps}; error: {instance.error_message}"
            )
        time.sleep(0.1)


def until(predicate: Callable[[], bool], *, timeout: float = 20, message: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(message or f"condition not met within {timeout}s")
        time.sleep(0.1)


def step_of(instance: WorkflowInstance, step_id: str) -> StepExecution:
    return StepExecution.objects.get(instance=instance, step_id=step_id)


@pytest.fixture
def make_workflow(org, owner) -> Callable[..., Any]:
    """A published definition in `org`, created through the authoring service (so every
    test definition also passes validation)."""
    from apps.workflows.services import definition_create, definition_publish

    def make(steps: list[dict[str, Any]], *, name: str | None = None, **fields: Any) -> Any:
        data = {"name": name or f"wf-{time.monotonic_ns()}", "steps": steps, **fields}
        definition = definition_create(organization=org, actor=owner, data=data)
        return definition_publish(definition_id=definition.pk, organization=org, actor=owner)

    return make


@pytest.fixture
def localhost(org) -> Any:
    from apps.inventory.services import host_create

    return host_create(organization=org, actor=None, hostname="localhost", primary_ip="127.0.0.1", connection="local")


@pytest.fixture
def run(owner) -> Callable[..., WorkflowInstance]:
    from apps.engine.services import instance_start

    def start(definition: Any, *, hosts: list[Any] | None = None, **kwargs: Any) -> WorkflowInstance:
        return instance_start(definition=definition, actor=owner, hosts=hosts or [], **kwargs)

    return start
