"""Storing log lines with a per-instance `seq` that increases in commit order (DESIGN §8).

A viewer that has seen seq N must be able to trust that it has seen every line <= N, so
seqs must become visible in order. Each append therefore takes the instance's LogCursor
row lock, allocates a contiguous block of seqs and inserts its lines in the same short
transaction: the next appender of that instance waits for the lock and so both gets
higher seqs and commits later. Lock order: the cursor is always the last lock taken
(the engine may append system lines while it holds the instance row).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.jobs.models import LogCursor, LogLine, LogStream

CURSOR_UPSERT = """
    INSERT INTO {table} (instance_id, last_seq) VALUES (%s, %s)
    ON CONFLICT (instance_id) DO UPDATE SET last_seq = {table}.last_seq + EXCLUDED.last_seq
    RETURNING last_seq
"""


@dataclass(frozen=True)
class LogEntry:
    step_id: str
    line: str
    stream: str = LogStream.STDOUT
    host: str = ""
    job_id: int | None = None
    ts: datetime = field(default_factory=timezone.now)


def split_line(line: str, max_chars: int) -> list[str]:
    if len(line) <= max_chars:
        return [line]
    return [line[start : start + max_chars] for start in range(0, len(line), max_chars)]


def _split_entries(entries: list[LogEntry]) -> list[LogEntry]:
    max_chars = settings.OPSFLOW_LOG_MAX_LINE
    result: list[LogEntry] = []
    for entry in entries:
        if len(entry.line) <= max_chars and "\x00" not in entry.line:
            result.append(entry)
            continue
        line = entry.line.replace("\x00", "\ufffd")  # Postgres text cannot hold NUL
        result.extend(replace(entry, line=piece) for piece in split_line(line, max_chars))
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


def _insert(rows: list[LogLine]) -> None:
    if connection.vendor != "postgresql":
        LogLine.objects.bulk_create(rows)
        return
    # COPY is several times cheaper than a multi-row INSERT for the log's hot path.
    columns = ("instance_id", "seq", "job_id", "step_id", "host", "stream", "ts", "line")
    sql = f"COPY {LogLine._meta.db_table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(
                (row.instance_id, row.seq, row.job_id, row.step_id, row.host, row.stream, row.ts, row.line)
            )


def log_append(instance_id: int, entries: list[LogEntry]) -> list[int]:
    """Store the lines (long ones split) and publish them to live viewers after commit.
    Returns the seqs given to the stored lines, in order."""
    entries = _split_entries(list(entries))
    if not entries:
        return []
    with transaction.atomic():
        first = _allocate(instance_id, len(entries))
        rows = [
            LogLine(
                instance_id=instance_id,
                seq=first + offset,
                job_id=entry.job_id,
                step_id=entry.step_id,
                host=entry.host,
                stream=entry.stream,
                ts=entry.ts,
                line=entry.line,
            )
            for offset, entry in enumerate(entries)
        ]
        _insert(rows)
        transaction.on_commit(partial(_publish, instance_id, rows))
    return [row.seq for row in rows]


def _publish(instance_id: int, rows: list[LogLine]) -> None:
    from apps.jobs.publish import publish_lines

    publish_lines(instance_id, rows)


def system_log(instance_id: int, step_id: str, message: str, host: str = "") -> list[int]:
    """An engine message in the instance's log (stream `system`)."""
    return log_append(instance_id, [LogEntry(step_id=step_id, line=message, stream=LogStream.SYSTEM, host=host)])


def line_message(row: LogLine) -> dict[str, Any]:
    """A stored line as DESIGN §8's `log` message."""
    return {
        "type": "log",
        "seq": row.seq,
        "step": row.step_id,
        "host": row.host,
        "stream": row.stream,
        "ts": row.ts.isoformat(),
        "line": row.line,
    }
