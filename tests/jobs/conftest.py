"""Rows the jobs tests need, created directly (the engine is not involved)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connections

from apps.engine.models import StepExecution, WorkflowInstance
from apps.jobs.models import Job, JobStatus


@pytest.fixture
def instance(org) -> WorkflowInstance:
    return WorkflowInstance.objects.create(organization=org, workflow_name="t", snapshot={})


@pytest.fixture
def step(instance) -> StepExecution:
    return StepExecution.objects.create(instance=instance, step_id="s1", step_type="command", attempt=1)


@pytest.fixture
def make_job(step) -> Callable[..., Job]:
    def make(hostname: str = "web-1", *, connection: str = "local", on_step=None, **fields) -> Job:
        fields.setdefault("status", JobStatus.QUEUED)
        on_step = on_step or step
        return Job.objects.create(
            instance_id=on_step.instance_id,
            step_execution=on_step,
            step_id=on_step.step_id,
            hostname=hostname,
            host={"hostname": hostname, "connection": connection},
            **fields,
        )

    return make


@pytest.fixture
def advance_hints(monkeypatch) -> list[int]:
    """The instance ids whose advance the jobs app asked for (apps.core.wake)."""
    calls: list[int] = []
    monkeypatch.setattr("apps.core.wake.instance_wake_now", calls.append)
    return calls


def in_thread_connection_closed(function: Callable) -> Callable:
    """Threads get their own database connection; close it when the thread is done."""

    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    return wrapper
