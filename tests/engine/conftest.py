"""End-to-end engine helpers: start and watch instances run by the session's Celery
worker (tests/celery_worker.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from apps.engine.models import StepExecution, WorkflowInstance


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
        step_ok = True
        if step is not None:
            execution = StepExecution.objects.filter(instance=instance, step_id=step).first()
            step_ok = execution is not None and (wanted_step is None or execution.status in wanted_step)
        # The instance is read after its step: the pass that moved the step has committed
        # the instance row too, so what the test then asserts about the instance is current.
        instance.refresh_from_db()
        if step_ok and (wanted is None or instance.status in wanted):
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


@pytest.fixture
def vault_credential(org) -> Any:
    from apps.credentials.services import credential_create

    return credential_create(
        organization=org, actor=None, name="db-admin", kind="password", username="dba", secret="s3cr3t-Pa55-value"
    )


@pytest.fixture
def fleet(org) -> list[Any]:
    from apps.inventory.services import host_create

    return [
        host_create(organization=org, actor=None, hostname=f"web-{i}", primary_ip=f"10.0.0.{i}", connection="local")
        for i in range(1, 6)
    ]


class _Hook(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook_server():
    _Hook.received = []
    _Hook.status = 200
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, _Hook
    server.shutdown()
