"""Live-log tests: an instance with stored lines, and WebSocket clients of the real ASGI
application (config/asgi.py: origin check, session and token authentication, routing)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.test import Client

from apps.accounts.roles import Role
from apps.accounts.services import api_token_create
from apps.engine.models import StepExecution, WorkflowInstance
from apps.jobs.logs import LogEntry, log_append
from config.asgi import application
from tests.browser.conftest import browser, login  # noqa: F401 - fixtures for test_browser
from tests.engine.conftest import localhost, make_workflow, run  # noqa: F401 - fixtures

ORIGIN = b"http://127.0.0.1:8000"
FRAME_TIMEOUT = 10


def play(scenario: Callable[[], Any]) -> None:
    """Run a test's async scenario (WebSocket clients) to its end."""
    async_to_sync(scenario)()


@pytest.fixture
def viewer_user(org, make_member):
    return make_member(org, Role.VIEWER, "watcher")


@pytest.fixture
def instance(org) -> WorkflowInstance:
    instance = WorkflowInstance.objects.create(organization=org, workflow_name="deploy", snapshot={},
                                               status="running")
    StepExecution.objects.create(instance=instance, step_id="plan", step_type="command", status="running",
                                 attempt=1)
    return instance


def append(instance: WorkflowInstance, count: int, *, start: int = 0, step: str = "plan", host: str = "web-1",
           stream: str = "stdout") -> list[int]:
    return log_append(instance.pk, [LogEntry(step_id=step, host=host, stream=stream, line=f"line {i}")
                                    for i in range(start, start + count)])


def token_for(user) -> str:
    return api_token_create(user=user, name="ws")[1]


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


class WebsocketCommunicator(ApplicationCommunicator):
    """An in-process WebSocket client of an ASGI application: channels.testing's class of
    the same name, which cannot be imported without daphne (not a dependency)."""

    def __init__(self, application: Any, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        parsed = urlsplit(path)
        scope = {"type": "websocket", "path": unquote(parsed.path), "query_string": parsed.query.encode(),
                 "headers": headers, "subprotocols": []}
        super().__init__(application, scope)

    async def connect(self, timeout: float) -> bool:
        await self.send_input({"type": "websocket.connect"})
        response = await self.receive_output(timeout)
        assert response["type"] in ("websocket.accept", "websocket.close"), response
        return response["type"] == "websocket.accept"

    async def receive_from(self, timeout: float) -> str:
        response = await self.receive_output(timeout)
        assert response["type"] == "websocket.send", response
        return response["text"]

    async def disconnect(self, code: int = 1000, timeout: float = 5) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(timeout)


class Viewer:
    """A WebSocket client of /ws/instances/<id>/ and the frames it received."""

    def __init__(self, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        self.communicator = WebsocketCommunicator(application, path, headers=headers)
        self.frames: list[dict[str, Any]] = []

    async def connect(self) -> bool:
        return await self.communicator.connect(timeout=FRAME_TIMEOUT)

    async def receive(self, timeout: float = FRAME_TIMEOUT) -> dict[str, Any]:
        frame = json.loads(await self.communicator.receive_from(timeout=timeout))
        self.frames.append(frame)
        return frame

    async def until(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = FRAME_TIMEOUT) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"no such frame within {timeout}s; got {self.frames[-5:]}")
            if predicate(await self.receive(remaining)):
                return

    async def until_seq(self, seq: int, timeout: float = FRAME_TIMEOUT) -> None:
        if self.seqs and self.seqs[-1] >= seq:
            return
        await self.until(lambda frame: any(line["seq"] >= seq for line in frame_lines(frame)), timeout)

    @property
    def lines(self) -> list[dict[str, Any]]:
        return [line for frame in self.frames for line in frame_lines(frame)]

    @property
    def seqs(self) -> list[int]:
        return [line["seq"] for line in self.lines]

    async def close(self) -> None:
        await self.communicator.disconnect()


def frame_lines(frame: dict[str, Any]) -> list[dict[str, Any]]:
    if frame["type"] == "logs":
        return frame["lines"]
    return [frame] if frame["type"] == "log" else []


@pytest.fixture
def ws_client() -> Callable[..., Viewer]:
    """ws_client(instance, token=..., session=..., origin=..., query="after=0", organization=...)"""

    def make(instance: WorkflowInstance, *, token: str | None = None, session: str | None = None,
             origin: bytes | None = ORIGIN, query: str = "", organization: str | None = None,
             authorization: bytes | None = None) -> Viewer:
        headers = []
        if origin is not None:
            headers.append((b"origin", origin))
        if token is not None:
            headers.append((b"authorization", f"Token {token}".encode()))
        if authorization is not None:
            headers.append((b"authorization", authorization))
        if session is not None:
            headers.append((b"cookie", f"sessionid={session}".encode()))
        if organization is not None:
            headers.append((b"x-organization", organization.encode()))
        return Viewer(f"/ws/instances/{instance.pk}/" + (f"?{query}" if query else ""), headers)

    return make
