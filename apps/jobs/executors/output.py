"""Reading a job's stdout and stderr concurrently, line by line, masked and size-limited.

One reader thread per pipe feeds a bounded queue that the supervising thread empties in
batches. Each reader always drains its pipe to the end, past the log limit too, so a
process never blocks on a full pipe and keeps running while its output is dropped. The
queue is bounded so that output produced faster than it can be stored slows the job
down (its writes block) instead of filling the worker's memory.

A reader takes whatever the pipe holds (up to READ_CHUNK bytes) at once and hands over
all the whole lines in it together: per line, the cost is a split and a share of one
masking pass, which lets a job that prints as fast as it can be stored at tens of
thousands of lines a second (bench/logs.py).
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

READ_CHUNK = 8 * 1024
# Chunks (lists of lines) waiting for the supervisor: few, so that a job that prints
# faster than its lines are stored waits instead of building a backlog (and latency:
# bench/logs.py, with the small pipes of apps.jobs.executors.local).
QUEUE_CHUNKS = 2
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


class LineSplitter:
    """Whole, masked lines out of decoded text that arrives in arbitrary pieces.

    A line longer than `limit` comes out in pieces of at most `limit` characters, cut
    where no secret straddles the cut (each piece is masked on its own)."""

    def __init__(self, masker: Masker, limit: int = READ_LIMIT) -> None:
        self._masker = masker
        self._limit = limit
        self._head = ""  # the start of a line whose end has not arrived yet
        self._cut = False  # pieces of the current line were handed out already

    def feed(self, text: str) -> list[str]:
        *complete, self._head = (self._head + text).split("\n")
        pieces: list[str] = []
        if complete:
            first = complete[0].rstrip("\r")
            if self._cut and not first:
                complete = complete[1:]  # the line ended right at a cut: no empty line
            self._cut = False
            pieces = self._whole(complete)
        # Keep enough of an unfinished line to see a secret that crosses the cut.
        while len(self._head) >= self._limit + self._masker.longest_line_form:
            cut = self._masker.safe_cut(self._head, self._limit)
            pieces.append(self._masker.mask_lines(self._head[:cut]))
            self._head = self._head[cut:]
            self._cut = True
        return pieces

    def finish(self, text: str = "") -> list[str]:
        pieces = self.feed(text)
        if self._head:
            pieces += self._whole([self._head])
            self._head = ""
        return pieces

    def _whole(self, lines: list[str]) -> list[str]:
        lines = [line.rstrip("\r") for line in lines]
        if any(len(line) > self._limit for line in lines):
            lines = [piece for line in lines for piece in self._pieces(line)]
        if self._masker:
            lines = self._masker.mask_lines("\n".join(lines)).split("\n")
        return lines

    def _pieces(self, line: str) -> list[str]:
        pieces = []
        while len(line) > self._limit:
            cut = self._masker.safe_cut(line, self._limit)
            pieces.append(line[:cut])
            line = line[cut:]
        return [*pieces, line]


class OutputCollector:
    def __init__(self, masker: Masker, *, limit_bytes: int) -> None:
        self._masker = masker
        self._limit = limit_bytes
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_CHUNKS)  # lists of lines and _PIPE_ENDED
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._ended = 0  # readers that reached the end of their pipe (only take() counts)
        self._carried: list[OutputLine] = []  # taken from the queue beyond take()'s limit
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
        return self.readers_done and self._queue.empty() and not self._carried

    def take(self, timeout: float, limit: int) -> list[OutputLine]:
        """Wait up to `timeout` for lines (not at all once every pipe has ended), then
        return them with whatever else is queued, at most `limit`. A reader's end wakes
        the wait, so a job that exits is noticed at once rather than at the next poll."""
        lines, self._carried = self._carried[:limit], self._carried[limit:]
        wait: float | None = None if lines else timeout
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
            room = limit - len(lines)
            lines.extend(item[:room])
            self._carried = item[room:]
            wait = None
        return lines

    def _read(self, stream: str, pipe: IO[bytes]) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        splitter = LineSplitter(self._masker)
        read = getattr(pipe, "read1", pipe.read)
        try:
            while chunk := read(READ_CHUNK):
                self._accept(stream, splitter.feed(decoder.decode(chunk)))
            self._accept(stream, splitter.finish(decoder.decode(b"", final=True)))
        except (OSError, ValueError):  # the pipe was closed under us after a kill
            pass
        finally:
            pipe.close()
            self._queue.put(_PIPE_ENDED)

    def _accept(self, stream: str, lines: list[str]) -> None:
        if not lines:
            return
        if stream == LogStream.STDOUT:
            self.last_stdout = next((line for line in reversed(lines) if line.strip()), self.last_stdout)
        ts = now_utc()
        accepted: list[OutputLine] = []
        with self._lock:
            for line in lines:
                size = (len(line) if line.isascii() else len(line.encode("utf-8", "replace"))) + 1
                self.bytes_total += size
                if self.truncated:
                    continue
                if self.bytes_stored + size > self._limit:
                    self.truncated = True
                    accepted.append(OutputLine(LogStream.SYSTEM, truncation_marker(self._limit), ts))
                else:
                    self.bytes_stored += size
                    accepted.append(OutputLine(stream, line, ts))
        if accepted:
            self._queue.put(accepted)
