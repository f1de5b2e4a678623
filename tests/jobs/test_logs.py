"""Log rows: seq allocation in commit order, long lines, publishing after commit."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from apps.core.live import instance_group
from apps.jobs.logs import LogEntry, log_append, system_log
from apps.jobs.models import LogCursor, LogLine
from tests.jobs.conftest import in_thread_connection_closed


def entries(count: int, prefix: str = "line") -> list[LogEntry]:
    return [LogEntry(step_id="s1", host="web-1", line=f"{prefix} {i}") for i in range(count)]


@pytest.mark.django_db
def test_seqs_are_contiguous_and_increasing_per_instance(instance, org):
    from apps.engine.models import WorkflowInstance

    other = WorkflowInstance.objects.create(organization=org, workflow_name="t", snapshot={})

    assert log_append(instance.pk, entries(3)) == [1, 2, 3]
    assert log_append(other.pk, entries(2)) == [1, 2]
    assert log_append(instance.pk, entries(2)) == [4, 5]
    assert log_append(instance.pk, []) == []
    stored = list(LogLine.objects.filter(instance=instance).values_list("seq", "line"))
    assert stored == [(1, "line 0"), (2, "line 1"), (3, "line 2"), (4, "line 0"), (5, "line 1")]
    assert LogCursor.objects.get(instance=instance).last_seq == 5


@pytest.mark.django_db
def test_long_lines_are_split_and_nul_bytes_replaced(instance, settings):
    settings.OPSFLOW_LOG_MAX_LINE = 10

    seqs = log_append(instance.pk, [LogEntry(step_id="s1", line="a" * 25), LogEntry(step_id="s1", line="x\x00y")])

    assert seqs == [1, 2, 3, 4]
    lines = list(LogLine.objects.filter(instance=instance).values_list("line", flat=True))
    assert lines == ["a" * 10, "a" * 10, "a" * 5, "x\ufffdy"]


@pytest.mark.django_db
def test_lines_are_stored_verbatim_with_their_fields(instance, make_job):
    from datetime import UTC, datetime

    job = make_job()
    ts = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    text = "tab\there back\\slash \\N café \r\nnext"

    log_append(instance.pk, [LogEntry(step_id="s1", host="web-1", stream="stderr", line=text, job_id=job.pk, ts=ts)])

    row = LogLine.objects.get(instance=instance)
    assert (row.line, row.stream, row.host, row.job_id, row.ts, row.seq) == (text, "stderr", "web-1", job.pk, ts, 1)


@pytest.mark.django_db
def test_system_log_is_on_the_system_stream(instance):
    system_log(instance.pk, "s1", "Step s1 started", host="web-1")

    line = LogLine.objects.get(instance=instance)
    assert (line.stream, line.step_id, line.host, line.line, line.job_id) == ("system", "s1", "web-1",
                                                                               "Step s1 started", None)


@pytest.mark.django_db(transaction=True)
def test_concurrent_appenders_get_distinct_contiguous_seqs_visible_in_order(instance):
    """Eight writers append at once while a reader polls: every snapshot the reader sees
    is a gap-free prefix 1..N, so a viewer that saw seq N has seen every line <= N."""
    writers, appends, per_append = 8, 40, 5
    stop = threading.Event()
    snapshots_with_gaps: list[list[int]] = []
    snapshots = 0

    @in_thread_connection_closed
    def write(writer: int) -> list[int]:
        seqs: list[int] = []
        for n in range(appends):
            seqs += log_append(instance.pk, entries(per_append, prefix=f"w{writer} a{n}"))
        return seqs

    @in_thread_connection_closed
    def read() -> None:
        nonlocal snapshots
        while not stop.is_set():
            seen = list(LogLine.objects.filter(instance=instance).order_by("seq").values_list("seq", flat=True))
            snapshots += 1
            if seen != list(range(1, len(seen) + 1)):
                snapshots_with_gaps.append(seen)

    reader = threading.Thread(target=read)
    reader.start()
    with ThreadPoolExecutor(writers) as pool:
        results = list(pool.map(write, range(writers)))
    stop.set()
    reader.join()

    total = writers * appends * per_append
    assert sorted(seq for seqs in results for seq in seqs) == list(range(1, total + 1))
    for seqs in results:  # each writer's lines stay in its own order
        assert seqs == sorted(seqs)
    for writer, seqs in enumerate(results):
        lines = dict(LogLine.objects.filter(instance=instance, seq__in=seqs).values_list("seq", "line"))
        expected = [f"w{writer} a{n} {i}" for n in range(appends) for i in range(per_append)]
        assert [lines[seq] for seq in seqs] == expected
    assert snapshots > 5
    assert snapshots_with_gaps == []


@pytest.mark.django_db(transaction=True)
def test_lines_are_published_as_one_batch_after_commit(instance):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(instance_group(instance.pk), channel)

    seqs = log_append(instance.pk, [LogEntry(step_id="s1", host="web-1", line=f"l{i}", job_id=None) for i in range(3)])

    message = async_to_sync(layer.receive)(channel)
    assert message["type"] == "log.batch"
    assert [line["seq"] for line in message["lines"]] == seqs
    first = message["lines"][0]
    assert {key: first[key] for key in ("type", "step", "host", "stream", "line")} == {
        "type": "log", "step": "s1", "host": "web-1", "stream": "stdout", "line": "l0",
    }
    assert first["ts"]
    async_to_sync(layer.group_discard)(instance_group(instance.pk), channel)


@pytest.mark.django_db
def test_nothing_is_published_when_the_transaction_rolls_back(instance, django_capture_on_commit_callbacks):
    from django.db import transaction

    with django_capture_on_commit_callbacks() as callbacks:
        try:
            with transaction.atomic():
                log_append(instance.pk, entries(2))
                raise RuntimeError("boom")
        except RuntimeError:
            pass
    assert callbacks == []
    assert not LogLine.objects.filter(instance=instance).exists()


@pytest.mark.django_db(transaction=True)
def test_a_failing_channel_layer_does_not_lose_lines(instance, monkeypatch, caplog):
    layer = get_channel_layer()

    async def broken(group, message):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(layer, "group_send", broken)

    assert log_append(instance.pk, entries(2)) == [1, 2]
    assert LogLine.objects.filter(instance=instance).count() == 2
    assert "could not publish 2 log lines" in caplog.text
