"""Watching one running job: output batches, timeout, stop requests, heartbeats, kills.

Everything that touches the database (on_lines, should_stop, heartbeat) runs in the
supervising thread only; the reader threads just fill the collector's queue.

Stop tiers (DESIGN §6): a `term` request (force cancel) sends SIGTERM to the job's
process group once and keeps watching; processes that ignore it run on until they exit,
the step's timeout passes or a `kill` request comes. A `kill` request, a timeout and the
leftovers of an exited job get SIGTERM, then SIGKILL after the grace period. Either way
the job ends only when no process of its group is left (or was given up after SIGKILL).

The group is reached through a ProcessGroup: LocalGroup (signals and /proc on this
machine) for the local executor, a remote one (a second SSH channel) for the SSH executor.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import subprocess
import time
from typing import Any, Protocol

from apps.jobs.executors.base import Heartbeat, JobSpec, OnLines, OutputLine, ShouldStop
from apps.jobs.executors.output import OutputCollector, now_utc
from apps.jobs.executors.process import group_alive, group_members, signal_group, wait_group_gone
from apps.jobs.models import LogStream, StopRequest

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 0.075
FLUSH_LINES = 500
POLL_SECONDS = 0.05
STOP_POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 5.0
# After the main process exits, how long its pipes may stay open or its background
# children may live before they are stopped.
LEFTOVER_SECONDS = 0.5
# A process that survives SIGKILL this long (uninterruptible sleep, or one that left the
# group with setsid while holding our pipes) is reported and no longer waited for.
ABANDON_SECONDS = 5.0
VERIFY_SECONDS = 2.0


class ProcessGroup(Protocol):
    def alive(self) -> bool: ...
    def signal(self, sig: signal.Signals) -> bool: ...
    def wait_gone(self, timeout: float) -> bool: ...
    def members(self) -> list[int]: ...


class LocalGroup:
    def __init__(self, pgid: int) -> None:
        self.pgid = pgid

    def alive(self) -> bool:
        return group_alive(self.pgid)

    def signal(self, sig: signal.Signals) -> bool:
        return signal_group(self.pgid, sig)

    def wait_gone(self, timeout: float) -> bool:
        return wait_group_gone(self.pgid, timeout)

    def members(self) -> list[int]:
        return group_members(self.pgid)


class Supervision:
    def __init__(
        self,
        process: subprocess.Popen[bytes] | Any,
        collector: OutputCollector,
        *,
        spec: JobSpec,
        grace: float,
        on_lines: OnLines,
        should_stop: ShouldStop,
        heartbeat: Heartbeat,
        group: ProcessGroup | None = None,
        pgid: int | None = None,
    ) -> None:
        """`process` is a Popen or anything with its poll(), wait(timeout), stdout and
        stderr; `group` reaches its process group (by default the local one of its pid)."""
        self.process, self.collector, self.grace = process, collector, grace
        self.on_lines, self.should_stop, self.heartbeat = on_lines, should_stop, heartbeat
        self.pgid = pgid if pgid is not None else process.pid
        self.group: ProcessGroup = group or LocalGroup(self.pgid)
        now = time.monotonic()
        self.deadline = now + spec.timeout_seconds if spec.timeout_seconds else None
        self.timeout_seconds = spec.timeout_seconds
        self.next_stop_poll = now + STOP_POLL_SECONDS
        self.next_heartbeat = now + HEARTBEAT_SECONDS
        self.stop_mode = ""
        self.timed_out = False
        self.leftovers = False
        self.exited_at: float | None = None
        self.term_sent_at: float | None = None
        self.kill_due: float | None = None  # SIGKILL then, if a process of the group is left
        self.kill_sent_at: float | None = None
        self.batch: list[OutputLine] = []
        self.batch_started = 0.0

    def run(self) -> None:
        assert self.process.stdout is not None and self.process.stderr is not None
        self.collector.start(LogStream.STDOUT, self.process.stdout)
        self.collector.start(LogStream.STDERR, self.process.stderr)
        while not self._finished():
            self._pump()
            if self.exited_at is None and self.collector.done:
                self._wait_exit(POLL_SECONDS)  # the pipes closed: the exit is near, wait for it
            now = time.monotonic()
            self._check_timeout(now)
            self._check_stop(now)
            self._escalate(now)
            self._beat(now)
        if self.term_sent_at is not None:
            self._verify()
        self._flush()

    def ensure_gone(self) -> None:
        """Last resort (also on an error in a callback): nothing of the job survives us."""
        if self.group.alive():
            self.group.signal(signal.SIGKILL)
        if self.process.poll() is None:
            try:
                self.process.wait(timeout=VERIFY_SECONDS)
            except subprocess.TimeoutExpired:
                logger.error("job process %s survived SIGKILL", self.pgid)

    # --- the loop ----------------------------------------------------------------------
    def _finished(self) -> bool:
        now = time.monotonic()
        if self.exited_at is None:
            if self.process.poll() is None:
                return self._abandoned(now)
            self.exited_at = now
        if self.collector.done and not self.group.alive():
            return True
        if self.term_sent_at is None and now - self.exited_at >= LEFTOVER_SECONDS:
            self.leftovers = True
            self._terminate(now, "The job's main process exited; stopping the background processes it left running.",
                            escalate=True)
        return self._abandoned(now)

    def _wait_exit(self, timeout: float) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=timeout)

    def _abandoned(self, now: float) -> bool:
        if self.kill_sent_at is None or now - self.kill_sent_at < ABANDON_SECONDS:
            return False
        self._system(f"Gave up waiting for the job's processes {ABANDON_SECONDS:.0f} s after SIGKILL.")
        return True

    def _pump(self) -> None:
        if self.batch:
            wait = max(0.0, min(POLL_SECONDS, self.batch_started + FLUSH_SECONDS - time.monotonic()))
        else:
            wait = POLL_SECONDS
        lines = self.collector.take(wait, FLUSH_LINES - len(self.batch))
        if lines:
            if not self.batch:
                self.batch_started = time.monotonic()
            self.batch.extend(lines)
        due = self.batch and time.monotonic() - self.batch_started >= FLUSH_SECONDS
        if len(self.batch) >= FLUSH_LINES or due:
            self._flush()

    def _flush(self) -> None:
        if self.batch:
            batch, self.batch = self.batch, []
            self.on_lines(batch)

    def _system(self, text: str) -> None:
        if not self.batch:
            self.batch_started = time.monotonic()
        self.batch.append(OutputLine(LogStream.SYSTEM, text, now_utc()))

    # --- timeout, stop, kill ---------------------------------------------------------
    def _check_timeout(self, now: float) -> None:
        if self.deadline is None or now < self.deadline or self.kill_due is not None:
            return
        if self.exited_at is not None and self.term_sent_at is None:
            return  # the job ended in time; its leftovers are stopped by _finished
        if self.stop_mode:  # a force stop's SIGTERM was ignored for longer than the step may run
            self._terminate(now, f"Timeout: the job's processes outlived its timeout of {self.timeout_seconds} s "
                                 "after the force stop.", escalate=True)
            return
        self.timed_out = True
        self._terminate(now, f"Timeout: the job ran longer than {self.timeout_seconds} s.", escalate=True)

    def _check_stop(self, now: float) -> None:
        if now < self.next_stop_poll or self.timed_out or self.stop_mode == StopRequest.KILL:
            return
        if self.exited_at is not None and not self.stop_mode:
            return  # it ended on its own; only a force stop still watched may be escalated
        self.next_stop_poll = now + STOP_POLL_SECONDS
        try:
            mode = self.should_stop()
        except Exception:  # a database blip must not kill or orphan the job
            logger.warning("could not read the stop request of job group %s", self.pgid, exc_info=True)
            return
        if mode == StopRequest.KILL:
            self.stop_mode = mode
            self._terminate(now, "Stop requested (kill).", escalate=True)
        elif mode == StopRequest.TERM and not self.stop_mode:
            self.stop_mode = mode
            self._terminate(now, "Stop requested (term).", escalate=False)

    def _terminate(self, now: float, reason: str, *, escalate: bool) -> None:
        self.term_sent_at = now
        if escalate:
            due = now + self.grace
            self.kill_due = due if self.kill_due is None else min(self.kill_due, due)
            then = f"SIGKILL follows in {self.grace:g} s."
        else:
            then = "no SIGKILL follows (force): processes that ignore it may keep running."
        self._system(f"{reason} Sending SIGTERM to the job's process group; {then}")
        self.group.signal(signal.SIGTERM)

    def _escalate(self, now: float) -> None:
        if self.kill_due is None or self.kill_sent_at is not None or now < self.kill_due:
            return
        self.kill_sent_at = now
        if self.group.alive():
            self.group.signal(signal.SIGKILL)
            self._system("The job's processes were still running after SIGTERM; sent SIGKILL.")

    def _verify(self) -> None:
        if self.group.wait_gone(VERIFY_SECONDS):
            self._system("Verified: no process of the job is still running.")
        else:
            pids = ", ".join(map(str, self.group.members()))
            self._system(f"Warning: processes of the job are still running after SIGKILL: {pids}.")

    def _beat(self, now: float) -> None:
        if now < self.next_heartbeat:
            return
        self.next_heartbeat = now + HEARTBEAT_SECONDS
        try:
            self.heartbeat()
        except Exception:
            logger.warning("heartbeat of job group %s failed", self.pgid, exc_info=True)
