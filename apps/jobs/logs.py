"""Storing log lines with a per-instance `seq` that increases in commit order (DESIGN §8).

A viewer that has seen seq N must be able to trust that it has seen every line <= N, so
seqs must become visible in order. Each append therefore takes the instance's LogCursor
row lock, allocates a contiguous block of seqs and inserts its lines in the same short
transaction: the next appender of that instance waits for the lock and so both gets
higher seqs and commits later. Lock order: the cursor is always the last lock taken
(the engine may append system lines while it holds the instance row).

This is the log's hot path (a job may print tens of thousands of lines a second): lines
travel as plain tuples, never as model instances, and Postgres gets them through one
COPY per append (bench/logs.py measures it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.jobs.executors.base import OutputLine
from apps.jobs.models import LogCursor, LogLine, LogStream

COPY_COLUMNS = ("instance_id", "seq", "job_id", "step_id", "host", "stream", "ts", "line")
CURSOR_UPSERT = """
    INSERT INTO {table} (instance_id, last_seq) VALUES (%s, %s)
    ON CONFLICT (instance_id) DO UPDATE SET last_seq = {table}.last_seq + EXCLUDED.last_seq
    RETURNING last_seq
"""


class LogEntry(NamedTuple):
    step_id: str
    line: str
    stream: str = LogStream.STDOUT
    host: str = ""
    job_id: int | None = None
    ts: datetime | None = None  # None: the time of the append


class _Row(NamedTuple):
    job_id: int | None
    step_id: str
    host: str
    stream: str
    ts: datetime
    line: str


def split_line(line: str, max_chars: int) -> list[str]:
    if len(line) <= max_chars:
        return [line]
    return [line[start : start + max_chars] for start in range(0, len(line), max_chars)]


def _split_rows(rows: list[_Row]) -> list[_Row]:
    """Long lines become several rows; NUL (which Postgres text cannot hold) becomes U+FFFD."""
    max_chars = settings.OPSFLOW_LOG_MAX_LINE
    if all(len(row.line) <= max_chars and "\x00" not in row.line for row in rows):
        return rows
    result: list[_Row] = []
    for row in rows:
        line = row.line.replace("\x00", "\ufffd")
        result.extend(row._replace(line=piece) for piece in split_line(line, max_chars))
    return result


def _allocate(instance_id: int, count: int) -> int:
    """Reserve `count` seqs for the instance; returns the first. Holds the cursor's row
    lock until the surrounding transaction ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(CURSOR_UPSERT.format(table=LogCursor._meta.db_table), [instance_id, count])
            last = cursor.fetchone()[0]
        return last - count + 1
    # Portable path (SQLite: an IMMEDIATE transaction already serializes every writer).
    LogCursor.objects.get_or_create(instance_id=instance_id)
    cursor_row = LogCursor.objects.select_for_update().get(instance_id=instance_id)
    first = cursor_row.last_seq + 1
    cursor_row.last_seq += count
    cursor_row.save(update_fields=["last_seq"])
    return first


def _insert(instance_id: int, first: int, rows: list[_Row]) -> None:
    if connection.vendor != "postgresql":
        LogLine.objects.bulk_create(
            LogLine(instance_id=instance_id, seq=first + offset, job_id=row.job_id, step_id=row.step_id,
                    host=row.host, stream=row.stream, ts=row.ts, line=row.line)
            for offset, row in enumerate(rows)
        )
        return
    # COPY in text format, written as one block: several times cheaper than a multi-row
    # INSERT, and than building a model instance (or a COPY row) per line.
    data = "".join(
        f"{instance_id}\t{first + offset}\t{_job_text(row.job_id)}\t{_copy_text(row.step_id)}\t"
        f"{_copy_text(row.host)}\t{row.stream}\t{row.ts.isoformat()}\t{_copy_text(row.line)}\n"
        for offset, row in enumerate(rows)
    )
    sql = f"COPY {LogLine._meta.db_table} ({', '.join(COPY_COLUMNS)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        copy.write(data)


def _copy_text(value: str) -> str:
    """A value in COPY's text format: backslash, tab, newline and carriage return escaped."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        value = value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def _job_text(job_id: int | None) -> str:
    return "\\N" if job_id is None else str(job_id)


def _store(instance_id: int, rows: list[_Row]) -> range:
    rows = _split_rows(rows)
    if not rows:
        return range(0)
    with transaction.atomic():
        first = _allocate(instance_id, len(rows))
        _insert(instance_id, first, rows)
        transaction.on_commit(partial(_publish, instance_id, first, rows))
    return range(first, first + len(rows))


def log_append(instance_id: int, entries: Iterable[LogEntry]) -> list[int]:
    """Store the lines (long ones split) and publish them to live viewers after commit.
    Returns the seqs given to the stored lines, in order."""
    now = timezone.now()
    rows = [_Row(e.job_id, e.step_id, e.host, e.stream, e.ts or now, e.line) for e in entries]
    return list(_store(instance_id, rows))


def job_log_append(instance_id: int, *, job_id: int, step_id: str, host: str, lines: Sequence[OutputLine]) -> range:
    """log_append for a batch of one job's output (the jobs worker's hot path)."""
    return _store(instance_id, [_Row(job_id, step_id, host, stream, ts, line) for stream, line, ts in lines])


def _publish(instance_id: int, first: int, rows: list[_Row]) -> None:
    from apps.jobs.publish import publish_lines

    publish_lines(instance_id, [
        log_message(seq=seq, step=row.step_id, host=row.host, stream=row.stream, ts=row.ts, line=row.line)
        for seq, row in enumerate(rows, start=first)
    ])


def system_log(instance_id: int, step_id: str, message: str, host: str = "") -> list[int]:
    """An engine message in the instance's log (stream `system`)."""
    return log_append(instance_id, [LogEntry(step_id=step_id, line=message, stream=LogStream.SYSTEM, host=host)])


def log_message(*, seq: int, step: str, host: str, stream: str, ts: datetime, line: str) -> dict[str, Any]:
    """A line as DESIGN §8's `log` message (what viewers receive and the API returns)."""
    return {"type": "log", "seq": seq, "step": step, "host": host, "stream": stream, "ts": ts.isoformat(),
            "line": line}


def line_message(row: LogLine) -> dict[str, Any]:
    return log_message(seq=row.seq, step=row.step_id, host=row.host, stream=row.stream, ts=row.ts, line=row.line)
