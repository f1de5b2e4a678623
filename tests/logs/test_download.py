"""GET /api/instances/{id}/logs/download/: plain text, filters, streamed page by page (on
ASGI as on WSGI), follow until the instance ends, tenancy and bad input."""

from __future__ import annotations

import re
import threading
import time

import pytest
from asgiref.sync import async_to_sync
from django.db import connections
from django.test import AsyncClient

from apps.accounts.roles import Role
from apps.engine.models import WorkflowInstance
from tests.logs.conftest import append, token_for

pytestmark = pytest.mark.django_db(transaction=True)
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[(?P<where>[^\]]+)\] (?P<stream>\w+): (?P<text>.*)$")


@pytest.fixture
def mixed(instance):
    append(instance, 3, step="plan", host="web-1")
    append(instance, 2, start=3, step="plan", host="web-2", stream="stderr")
    append(instance, 2, start=5, step="apply", host="web-1")
    append(instance, 1, start=7, step="apply", host="", stream="system")
    return instance


def url(instance: WorkflowInstance, query: str = "") -> str:
    return f"/api/instances/{instance.pk}/logs/download/" + (f"?{query}" if query else "")


def parsed(body: str) -> list[tuple[str, str, str]]:
    rows = []
    for line in body.splitlines():
        match = LINE.match(line)
        assert match, line
        rows.append((match["where"], match["stream"], match["text"]))
    return rows


def test_the_whole_log_as_text_with_a_filename(api, viewer, org, mixed):
    response = api(viewer, org).get(url(mixed))

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="opsflow-run-{mixed.pk}.log"'
    rows = parsed(b"".join(response.streaming_content).decode())
    assert rows == [
        ("plan/web-1", "stdout", "line 0"), ("plan/web-1", "stdout", "line 1"), ("plan/web-1", "stdout", "line 2"),
        ("plan/web-2", "stderr", "line 3"), ("plan/web-2", "stderr", "line 4"),
        ("apply/web-1", "stdout", "line 5"), ("apply/web-1", "stdout", "line 6"),
        ("apply", "system", "line 7"),
    ]


@pytest.mark.parametrize(("query", "texts", "filename"), [
    ("step=plan", ["line 0", "line 1", "line 2", "line 3", "line 4"], "-plan"),
    ("step=plan&host=web-2", ["line 3", "line 4"], "-plan-web-2"),
    ("host=web-1", ["line 0", "line 1", "line 2", "line 5", "line 6"], "-web-1"),
    ("stream=errors", ["line 3", "line 4", "line 7"], ""),
    ("stream=stdout,system", ["line 0", "line 1", "line 2", "line 5", "line 6", "line 7"], ""),
    ("q=LINE 6", ["line 6"], ""),
    ("after=6", ["line 6", "line 7"], ""),
])
def test_filters_and_filename(api, viewer, org, mixed, query, texts, filename):
    response = api(viewer, org).get(url(mixed, query))

    assert response.status_code == 200
    assert [text for _, _, text in parsed(b"".join(response.streaming_content).decode())] == texts
    assert response["Content-Disposition"] == f'attachment; filename="opsflow-run-{mixed.pk}{filename}.log"'


def test_raw_is_the_text_alone(api, viewer, org, mixed):
    response = api(viewer, org).get(url(mixed, "raw=1&step=apply"))

    assert b"".join(response.streaming_content).decode() == "line 5\nline 6\nline 7\n"


def test_streamed_in_pages_on_wsgi(api, viewer, org, instance, monkeypatch):
    monkeypatch.setattr("apps.engine.log_export.PAGE_LINES", 100)
    append(instance, 350)

    chunks = list(api(viewer, org).get(url(instance, "raw=1")).streaming_content)

    assert len(chunks) == 4
    assert b"".join(chunks).decode().splitlines() == [f"line {i}" for i in range(350)]


def test_streamed_in_pages_on_asgi_without_reading_it_all_first(viewer, org, instance, monkeypatch):
    """Under the ASGI server (uvicorn) a synchronous iterator would be read whole into
    memory first: the download gives Django an asynchronous one."""
    monkeypatch.setattr("apps.engine.log_export.PAGE_LINES", 100)
    append(instance, 250)
    key = token_for(viewer)

    async def scenario():
        response = await AsyncClient().get(url(instance, "raw=1"), headers={"Authorization": f"Token {key}"})
        assert response.status_code == 200
        assert hasattr(response.streaming_content, "__aiter__")
        return [chunk async for chunk in response.streaming_content]

    chunks = async_to_sync(scenario)()
    assert len(chunks) == 3
    assert b"".join(chunks).decode().splitlines() == [f"line {i}" for i in range(250)]


def test_follow_streams_new_lines_until_the_instance_ends(api, viewer, org, instance):
    append(instance, 2)

    def later():
        try:
            time.sleep(0.8)
            append(instance, 2, start=2)
            time.sleep(0.8)
            append(instance, 1, start=4)
            WorkflowInstance.objects.filter(pk=instance.pk).update(status="succeeded")
        finally:
            connections.close_all()

    thread = threading.Thread(target=later)
    started = time.monotonic()
    thread.start()
    response = api(viewer, org).get(url(instance, "follow=1&raw=1"))
    arrivals = []
    for chunk in response.streaming_content:
        arrivals.append((time.monotonic() - started, chunk.decode()))
    thread.join()

    assert "".join(text for _, text in arrivals).splitlines() == [f"line {i}" for i in range(5)]
    assert arrivals[0][1] == "line 0\nline 1\n" and arrivals[0][0] < 0.7  # before the later lines existed
    assert len(arrivals) >= 3  # the later lines came as they were stored, not at the end


def test_follow_of_an_ended_instance_returns_at_once(api, viewer, org, instance):
    append(instance, 2)
    WorkflowInstance.objects.filter(pk=instance.pk).update(status="failed")

    started = time.monotonic()
    body = b"".join(api(viewer, org).get(url(instance, "follow=1&raw=1")).streaming_content)

    assert body == b"line 0\nline 1\n"
    assert time.monotonic() - started < 2


def test_session_browser_and_accept_text_plain(client, viewer, mixed):
    client.force_login(viewer)

    response = client.get(url(mixed, "step=apply&raw=1"), HTTP_ACCEPT="text/plain")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"line 5\nline 6\nline 7\n"


@pytest.mark.parametrize(("query", "field"), [
    ("after=-1", "after"), ("after=x", "after"), ("stream=stdin", "stream"), ("follow=maybe", "follow"),
    ("q=" + "x" * 501, "q"),
])
def test_bad_input_is_a_400(api, viewer, org, mixed, query, field):
    response = api(viewer, org).get(url(mixed, query))

    assert response.status_code == 400
    assert field in response.json()["detail"] or field in str(response.json())


def test_another_organizations_instance_is_a_404_and_anonymous_a_401(api, client, other_org, make_member, mixed):
    outsider = make_member(other_org, Role.OWNER, "outsider")

    assert api(outsider, other_org).get(url(mixed)).status_code == 404
    assert client.get(url(mixed)).status_code in (401, 403)
