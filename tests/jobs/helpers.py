"""Running the local executor in tests, and looking at processes."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from apps.jobs.executors.base import JobResult, JobSpec, OutputLine
from apps.jobs.executors.local import LocalExecutor


@dataclass
class Run:
    result: JobResult
    batches: list[list[OutputLine]]
    seconds: float
    heartbeats: int = 0
    lines: list[OutputLine] = field(default_factory=list)
    pgid: int | None = None  # what the executor reported through on_start

    def stream(self, name: str) -> list[str]:
        return [line.line for line in self.lines if line.stream == name]

    @property
    def system(self) -> str:
        return "\n".join(self.stream("system"))

    def value(self, name: str) -> int:
        """An integer the job printed as `name=<n>` on stdout."""
        for line in self.stream("stdout"):
            match = re.fullmatch(rf"{name}=(\d+)", line)
            if match:
                return int(match.group(1))
        raise AssertionError(f"{name} was not printed")


def run_job(
    jobs_dir: Path,
    command: str,
    *,
    kind: str = "command",
    interpreter: str = "bash",
    stop=lambda: "",
    grace: float = 1.0,
    limit: int = 10 * 1024 * 1024,
    **spec,
) -> Run:
    batches: list[list[OutputLine]] = []
    beats = []
    started: list[int] = []
    executor = LocalExecutor(jobs_dir=jobs_dir, kill_grace_seconds=grace, log_limit_bytes=limit)
    began = time.monotonic()
    result = executor.run(
        JobSpec(kind=kind, command=command, interpreter=interpreter, **spec),
        on_lines=batches.append,
        should_stop=stop,
        heartbeat=lambda: beats.append(1),
        on_start=started.append,
    )
    run = Run(result=result, batches=batches, seconds=time.monotonic() - began, heartbeats=len(beats),
              pgid=started[0] if started else None)
    run.lines = [line for batch in batches for line in batch]
    return run


def pid_alive(pid: int) -> bool:
    """A process that exists and is not a zombie (an orphan waiting for init to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def wait_dead(pid: int, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def stop_after(seconds: float, mode: str):
    started = time.monotonic()
    return lambda: mode if time.monotonic() - started >= seconds else ""


def stops(*schedule: tuple[float, str]):
    """Stop requests that change over time: [(after seconds, mode), ...], ascending."""
    started = time.monotonic()

    def should_stop() -> str:
        elapsed = time.monotonic() - started
        return next((mode for after, mode in reversed(schedule) if elapsed >= after), "")

    return should_stop

