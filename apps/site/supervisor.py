"""A small process supervisor for `manage.py standalone`.

Each child runs in its own process group (so a terminal Ctrl-C reaches only the
supervisor, which then stops the children in order) and gets SIGTERM if the supervisor
itself dies. Children's output is read without threads and printed line by line behind
the child's name. A child that exits on its own is never hidden: `wait()` raises
`ChildExited`, and the caller reports it and stops the rest.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

_PR_SET_PDEATHSIG = 1


class StopRequested(Exception):
    """SIGINT or SIGTERM arrived: stop every child and exit 0."""

    def __init__(self, signum: int) -> None:
        self.signal_name = signal.Signals(signum).name
        super().__init__(f"received {self.signal_name}")


class ChildExited(Exception):
    def __init__(self, child: Child) -> None:
        self.child = child
        super().__init__(f"{child.name} {describe_exit(child.returncode)}")


def describe_exit(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return f"was killed by signal {name} (status {returncode})"
    return f"exited with status {returncode}"


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    pending: bytes = field(default=b"", repr=False)

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    @property
    def pid(self) -> int:
        return self.process.pid


def _die_with_parent(parent_pid: int) -> Callable[[], None]:
    """Run in the child between fork and exec: SIGTERM it when the supervisor dies."""

    def preexec() -> None:
        if sys.platform.startswith("linux"):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
            if os.getppid() != parent_pid:  # the supervisor died before prctl
                os._exit(1)

    return preexec


class Supervisor:
    def __init__(self, out: TextIO | None = None) -> None:
        self.children: list[Child] = []
        self._out = out or sys.stdout
        self._selector = selectors.DefaultSelector()
        self._stopping = False
        self._escalate = False
        self._width = 6
        self._previous_handlers: dict[int, object] = {}

    # --- signals ---------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous_handlers[signum] = signal.signal(signum, self._on_signal)

    def restore_signal_handlers(self) -> None:
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: object) -> None:
        if self._stopping:
            # A second Ctrl-C while stopping: do not wait for the grace period.
            self._escalate = True
            return
        self._stopping = True
        # No output here: a write interrupted by a handler that writes too is an error.
        raise StopRequested(signum)

    # --- output --------------------------------------------------------------------------
    def say(self, message: str) -> None:
        self._out.write(f"opsflow: {message}\n")
        self._out.flush()

    def _emit(self, child: Child, data: bytes, *, final: bool = False) -> None:
        child.pending += data
        *lines, child.pending = child.pending.split(b"\n")
        if final and child.pending:
            lines.append(child.pending)
            child.pending = b""
        for raw in lines:
            line = raw.decode("utf-8", "replace").rstrip("\r")
            self._out.write(f"{child.name:<{self._width}} | {line}\n")
        if lines:
            self._out.flush()

    def pump(self, timeout: float) -> None:
        """Print what the children wrote, waiting at most `timeout` seconds for it."""
        if not self._selector.get_map():
            time.sleep(timeout)
            return
        for key, _ in self._selector.select(timeout):
            child: Child = key.data
            try:
                data = os.read(key.fd, 65536)
            except BlockingIOError:
                continue
            if data:
                self._emit(child, data)
            else:
                self._emit(child, b"", final=True)
                self._selector.unregister(key.fileobj)
                key.fileobj.close()

    # --- children ------------------------------------------------------------------------
    def spawn(self, name: str, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path) -> Child:
        process = subprocess.Popen(  # noqa: S603 - argv is built by the caller, no shell
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            process_group=0,
            preexec_fn=_die_with_parent(os.getpid()),  # the supervisor starts no threads
        )
        child = Child(name=name, process=process)
        self.children.append(child)
        self._width = max(self._width, len(name))
        os.set_blocking(process.stdout.fileno(), False)
        self._selector.register(process.stdout, selectors.EVENT_READ, child)
        return child

    def wait(self, until: Callable[[], bool] | None = None, timeout: float | None = None) -> bool:
        """Pump output until `until()` is true (True) or `timeout` passes (False).

        Raises ChildExited as soon as any child exits, StopRequested on SIGINT/SIGTERM."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self.pump(0.2)
            for child in self.children:
                if child.returncode is not None:
                    self._stopping = True
                    raise ChildExited(child)
            if until is not None and until():
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False

    def stop(self, children: Sequence[Child], grace: float) -> None:
        """SIGTERM each child's process group, wait up to `grace` s, then SIGKILL."""
        self._stopping = True
        for child in children:
            if child.returncode is None:
                _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while any(c.returncode is None for c in children):
            if self._escalate or time.monotonic() >= deadline:
                for child in children:
                    if child.returncode is None:
                        self.say(f"{child.name} did not stop in time; killing it")
                        _signal_group(child, signal.SIGKILL)
                        child.process.wait()
                break
            self.pump(0.1)
        for child in children:
            _signal_group(child, signal.SIGKILL)  # whatever the child left behind in its group

    def drain(self, timeout: float = 1.0) -> None:
        """Print what exited children still had in their pipes."""
        deadline = time.monotonic() + timeout
        while self._selector.get_map() and time.monotonic() < deadline:
            self.pump(0.05)

    def stop_all(self, grace: float = 10.0, last: Sequence[str] = ()) -> None:
        """Stop every child; those named in `last` (e.g. the Redis they use) afterwards."""
        self._stopping = True
        first = [c for c in self.children if c.name not in last]
        later = [c for c in self.children if c.name in last]
        self.stop(first, grace)
        self.stop(later, grace)
        self.drain()


def _signal_group(child: Child, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signum)
