"""The executor interface: what a job runs (JobSpec) and how it ended (JobResult)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple, Protocol

from apps.jobs.models import JobStatus


class JobSpecError(Exception):
    """The job cannot be prepared (a template that does not render, a missing config);
    the job fails with `error_class` and is not run."""

    def __init__(self, error_class: str, message: str) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.message = message


@dataclass
class JobSpec:
    kind: Literal["command", "script"]
    # The command line (run by /bin/sh -c) or the script body (run by `interpreter`).
    command: str
    interpreter: str = "bash"  # bash | sh | python (scripts only)
    env: dict[str, str] = field(default_factory=dict)
    timeout_seconds: int | None = None
    # Values masked out of every output line (sensitive variables, checked-out secrets).
    secrets: list[str] = field(default_factory=list)
    # The process's working directory; by default the job's own temporary directory.
    workdir: str | None = None


class OutputLine(NamedTuple):
    stream: str  # stdout | stderr | system
    line: str
    ts: datetime


@dataclass
class JobResult:
    status: str
    exit_code: int | None = None
    error_class: str = ""
    error_message: str = ""
    output: Any = None
    # Bytes of output the job produced (including any dropped past the log limit).
    log_bytes: int = 0
    log_truncated: bool = False
    # The executor checked, after the job ended, that no process of it is left.
    verified_stopped: bool = False

    @classmethod
    def error(cls, error_class: str, message: str) -> JobResult:
        return cls(status=JobStatus.FAILED, error_class=error_class, error_message=message)


OnLines = Callable[[list[OutputLine]], None]
ShouldStop = Callable[[], str]  # "" to go on, "term" or "kill" to stop the job
Heartbeat = Callable[[], object]
OnStart = Callable[[int], object]  # called with the process group id once the job's process runs


class Executor(Protocol):
    def run(
        self, spec: JobSpec, *, on_lines: OnLines, should_stop: ShouldStop, heartbeat: Heartbeat,
        on_start: OnStart | None = None,
    ) -> JobResult:
        ...
