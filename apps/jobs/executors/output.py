"""Reading a job's stdout and stderr concurrently, line by line, masked and size-limited.

One reader thread per pipe feeds a bounded queue that the supervising thread empties in
batches. Each reader always drains its pipe to the end, past the log limit too, so a
process never blocks on a full pipe and keeps running while its output is dropped. The
queue is bounded so that output produced faster than it can be stored slows the job
down (its writes block) instead of filling the worker's memory.
"""

from __future__ import annotations

import codecs
import queue
import threading
from datetime import UTC, datetime
from typing import IO, Any

from apps.jobs.executors.base import OutputLine
from apps.jobs.models import LogStream
from apps.jobs.redaction import Masker

QUEUE_SIZE = 2000
# A line longer than this is read (and masked) in pieces; log_append splits what it
# stores further, at OPSFLOW_LOG_MAX_LINE characters.
READ_LIMIT = 64 * 1024


def truncation_marker(limit_bytes: int) -> str:
    return (
        f"[opsflow] Output truncated: this job's log reached its limit of {limit_bytes:,} bytes "
        "(OPSFLOW_JOB_LOG_LIMIT_BYTES). Further output is dropped; the job keeps running."
    )


def now_utc() -> datetime:
    return datetime.now(UTC)


_PIPE_ENDED: Any = object()


class OutputCollector:
    def __init__(self, masker: Masker, *, limit_bytes: int) -> None:
        self._masker = masker
        self._limit = limit_bytes
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_SIZE)  # lines and _PIPE_ENDED
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._ended = 0  # readers that reached the end of their pipe (only take() counts)
        self.bytes_total = 0
        self.bytes_stored = 0
        self.truncated = False
        self.last_stdout = ""

    def start(self, stream: str, pipe: IO[bytes]) -> None:
        thread = threading.Thread(target=self._read, args=(stream, pipe), name=f"job-{stream}", daemon=True)
        thread.start()
        self._threads.append(thread)

    @property
    def readers_done(self) -> bool:
        return self._ended >= len(self._threads) or not any(thread.is_alive() for thread in self._threads)

    @property
    def done(self) -> bool:
        return self.readers_done and self._queue.empty()

    def take(self, timeout: float, limit: int) -> list[OutputLine]:
        """Wait up to `timeout` for a line (not at all once every pipe has ended), then
        return it with whatever else is queued. A reader's end wakes the wait, so a job
        that exits is noticed at once rather than at the next poll."""
        lines: list[OutputLine] = []
        wait: float | None = timeout
        while len(lines) < limit:
            if wait is not None and self._ended >= len(self._threads):
                wait = None
            try:
                item = self._queue.get(timeout=wait) if wait is not None else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _PIPE_ENDED:
                self._ended += 1
                continue
            lines.append(item)
            wait = None
        return lines

    def _read(self, stream: str, pipe: IO[bytes]) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        continued = False  # the previous piece was a long line's head, not a whole line
        try:
            while chunk := pipe.readline(READ_LIMIT):
                ended = chunk.endswith(b"\n")
                text = decoder.decode(chunk)
                if ended:
                    text = text.rstrip("\r\n")
                    if continued and not text:
                        continued = False
                        continue
                self._accept(stream, text)
                continued = not ended
            tail = decoder.decode(b"", final=True)
            if tail:
                self._accept(stream, tail)
        except (OSError, ValueError):  # the pipe was closed under us after a kill
            pass
        finally:
            pipe.close()
            self._queue.put(_PIPE_ENDED)

    def _accept(self, stream: str, text: str) -> None:
        line = self._masker.mask(text)
        if stream == LogStream.STDOUT and line.strip():
            self.last_stdout = line
        size = len(line.encode("utf-8", "replace")) + 1
        with self._lock:
            self.bytes_total += size
            if self.truncated:
                return
            if self.bytes_stored + size > self._limit:
                self.truncated = True
                line, stream = truncation_marker(self._limit), LogStream.SYSTEM
            else:
                self.bytes_stored += size
        self._queue.put(OutputLine(stream, line, now_utc()))
