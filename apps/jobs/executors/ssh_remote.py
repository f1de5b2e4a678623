"""A job's remote process over SSH, shaped like a local one for Supervision: poll(),
wait(), stdout and stderr pipes; and its process group, reached over a second channel.

The remote command is a small sh wrapper (remote_command):
- with `become`, the first stdin line is the sudo password: the login shell reads it and
  pipes it to `sudo -S` with printf (a shell builtin: never in an argv);
- a script's body follows on stdin; it is stored in a private temporary directory that is
  removed as soon as the interpreter holds it open (so it is never in an argv either);
- the process that runs the job prints "opsflow-pgid <its process group>" as its first
  stdout line (read here, never logged) and then execs `timeout`, which bounds the job by
  its step timeout (TERM, then KILL 5 s later) even when the controller is gone.
"""

from __future__ import annotations

import contextlib
import queue
import re
import shlex
import signal
import subprocess
import threading
import time
from typing import Any

import asyncssh

from apps.jobs.executors.ssh_pool import Pooled, runtime

PGID_MARKER = b"opsflow-pgid "
# Bytes a channel may have queued for the reader thread before its reading is paused.
HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024
# The controller's own timeout (Supervision) comes first; the remote bound is the backstop.
REMOTE_TIMEOUT_MARGIN_SECONDS = 15
REMOTE_TIMEOUT_DEFAULT_SECONDS = 24 * 3600
CHECK_TIMEOUT_SECONDS = 10
REMOTE_INTERPRETERS = {"bash": "bash", "sh": "sh", "python": "python3", "python3": "python3"}

_RUN = (
    'g=$(ps -o pgid= -p $$ 2>/dev/null) || g=$$; echo "opsflow-pgid" $g; '
    '. "$3/env" || exit 125; '
    'if [ -f "$3/script" ]; then exec 3< "$3/script" || exit 125; rm -rf "$3"; '
    'exec timeout -k 5 "$1" "$2" /dev/fd/3 < /dev/null; fi; '
    'rm -rf "$3"; exec timeout -k 5 "$1" sh -c "$4" < /dev/null'
)
_OUTER = (
    'if [ "$5" = 1 ]; then IFS= read -r p || p=; fi; '
    'd=$(mktemp -d) || exit 125; IFS= read -r n || exit 125; head -c "$n" > "$d/env" || exit 125; '
    'if [ "$2" = script ]; then cat > "$d/script" || exit 125; fi; '
    'if [ "$5" = 1 ]; then printf "%s\\n" "$p" | sudo -S -k -p "" -- sh -c "$6" opsflow-job "$1" "$3" "$d" "$4"; '
    'exit $?; fi; '
    'exec sh -c "$6" opsflow-job "$1" "$3" "$d" "$4"'
)
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def remote_timeout(timeout_seconds: int | None) -> int:
    if not timeout_seconds:
        return REMOTE_TIMEOUT_DEFAULT_SECONDS
    return int(timeout_seconds) + REMOTE_TIMEOUT_MARGIN_SECONDS


def remote_command(*, kind: str, command: str, interpreter: str, timeout: int, become: bool) -> str:
    """What the SSH exec request carries (run by the login user's shell). Nothing secret:
    the sudo password, the environment and a script's body come on stdin (job_stdin)."""
    program = REMOTE_INTERPRETERS.get(interpreter or "bash", "")
    args = [str(timeout), kind, program, command if kind == "command" else "", "1" if become else "0", _RUN]
    return "exec sh -c " + shlex.join([_OUTER, "opsflow-wrapper", *args])


def job_stdin(*, kind: str, command: str, env: dict[str, str], become: bool, password: str | None) -> bytes:
    """The sudo password line (become; empty for a key credential: NOPASSWD sudo), the
    environment as sourced shell code after its byte count, then a script's body."""
    exports = "".join(f"export {name}={shlex.quote(str(value))}\n" for name, value in env.items()
                      if ENV_NAME.match(name)).encode()
    head = f"{password or ''}\n".encode() if become else b""
    body = command.encode() if kind == "script" else b""
    return head + f"{len(exports)}\n".encode() + exports + body


class ChannelPipe:
    """The reading end (read1, for OutputCollector) of what one channel stream receives."""

    def __init__(self, resume: Any) -> None:
        self._queue: queue.Queue[bytes] = queue.Queue()
        self._buffered = 0
        self._lock = threading.Lock()
        self._resume = resume
        self._ended = False
        self.paused = False

    def feed(self, data: bytes) -> bool:
        """Loop thread: queue `data`; True when the channel should pause reading."""
        with self._lock:
            self._buffered += len(data)
            full = self._buffered > HIGH_WATER and not self.paused
            if full:
                self.paused = True
        self._queue.put(data)
        return full

    def end(self) -> None:
        self._queue.put(b"")

    def read1(self, size: int = -1) -> bytes:
        if self._ended:
            return b""
        data = self._queue.get()
        if not data:
            self._ended = True
            return b""
        with self._lock:
            self._buffered -= len(data)
            resume = self.paused and self._buffered < LOW_WATER
            if resume:
                self.paused = False
        if resume:
            self._resume()
        return data

    read = read1

    def close(self) -> None:
        pass


class RemoteProcess:
    def __init__(self) -> None:
        self.channel: asyncssh.SSHClientChannel | None = None
        self.stdout = ChannelPipe(self._resume)
        self.stderr = ChannelPipe(self._resume)
        self.code: int | None = None
        self.lost: Exception | None = None
        self.closed = threading.Event()
        self.started = threading.Event()  # the pgid line arrived, or the channel closed
        self.pgid: int | None = None
        self._head = b""

    # --- for Supervision ---------------------------------------------------------------
    @property
    def returncode(self) -> int | None:
        return self.poll()

    def poll(self) -> int | None:
        if not self.closed.is_set():
            return None
        return self.code if self.code is not None else 255  # like ssh(1) when the link is lost

    def wait(self, timeout: float | None = None) -> int:
        if not self.closed.wait(timeout):
            raise subprocess.TimeoutExpired("ssh", timeout or 0)
        return self.poll() or 0

    # --- from the loop thread ------------------------------------------------------------
    def _resume(self) -> None:
        channel = self.channel
        if channel is not None:
            runtime().loop.call_soon_threadsafe(channel.resume_reading)

    def stdout_data(self, data: bytes) -> bytes:
        """Strip the pgid line (the wrapper's first) off the stdout stream."""
        if self.started.is_set():
            return data
        self._head += data
        if b"\n" not in self._head:
            return b""
        line, _, rest = self._head.partition(b"\n")
        self._head = b""
        if line.startswith(PGID_MARKER):
            with contextlib.suppress(ValueError):
                self.pgid = int(line[len(PGID_MARKER):].strip())
        else:
            rest = line + b"\n" + rest
        self.started.set()
        return rest

    def ended(self, exc: Exception | None) -> None:
        self.lost = exc
        if self._head and not self.started.is_set():
            self.stdout.feed(self._head)
        self.started.set()
        self.stdout.end()
        self.stderr.end()
        self.closed.set()


class JobSession(asyncssh.SSHClientSession):
    def __init__(self, process: RemoteProcess, pooled: Pooled) -> None:
        self.process, self.pooled = process, pooled

    def connection_made(self, channel: asyncssh.SSHClientChannel) -> None:
        self.process.channel = channel

    def data_received(self, data: bytes, datatype: Any) -> None:
        if datatype == asyncssh.EXTENDED_DATA_STDERR:
            pipe = self.process.stderr
        else:
            pipe, data = self.process.stdout, self.process.stdout_data(data)
        if data and pipe.feed(data) and self.process.channel is not None:
            self.process.channel.pause_reading()

    def exit_status_received(self, status: int) -> None:
        self.process.code = status

    def exit_signal_received(self, signal_name: str, core_dumped: bool, msg: str, lang: str) -> None:
        number = getattr(signal.Signals, f"SIG{signal_name}", signal.SIGKILL)
        self.process.code = -int(number)

    def connection_lost(self, exc: Exception | None) -> None:
        self.pooled.sessions.release()
        self.process.ended(exc)


async def start_process(pooled: Pooled, command: str, stdin: bytes) -> RemoteProcess:
    process = RemoteProcess()
    await pooled.sessions.acquire()
    try:
        channel, _ = await pooled.connection.create_session(lambda: JobSession(process, pooled), command,
                                                            encoding=None)
    except BaseException:
        pooled.sessions.release()
        raise
    if stdin:
        channel.write(stdin)
    channel.write_eof()
    return process


class RemoteGroup:
    """The job's process group on the remote host, through short commands on another
    channel of the same connection. `unknown` is set when the host could not be asked."""

    def __init__(self, pooled: Pooled, pgid: int | None, *, become: bool, password: str | None) -> None:
        """`pgid` None: the job never reported its group (the wrapper or sudo failed first),
        so nothing of it runs."""
        self.pooled, self.pgid, self.become, self.password = pooled, pgid, become, password
        self.unknown = False

    def _run(self, command: str, *, privileged: bool = False) -> int | None:
        stdin = None
        if privileged and self.become:
            sudo = "sudo -S -k -p ''" if self.password else "sudo -n"
            command = f"{sudo} -- sh -c {shlex.quote(command)}"
            stdin = f"{self.password}\n" if self.password else None
        try:
            result = runtime().call(self.pooled.connection.run(command, input=stdin, check=False,
                                                               timeout=CHECK_TIMEOUT_SECONDS),
                                    CHECK_TIMEOUT_SECONDS + 5)
        except Exception:  # the connection is gone: nothing can be checked or signalled
            self.unknown = True
            return None
        return result.exit_status

    def alive(self) -> bool:
        if self.pgid is None:
            return False
        check = (f"ps -e -o pgid= -o stat= | awk -v g={self.pgid} "
                 "'$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'")
        return self._run(check) == 0

    def signal(self, sig: signal.Signals) -> bool:
        if self.pgid is None:
            return False
        name = signal.Signals(sig).name.removeprefix("SIG")
        return self._run(f"kill -s {name} -- -{self.pgid}", privileged=True) == 0

    def wait_gone(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.alive():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
        return not self.unknown

    def members(self) -> list[int]:
        if self.pgid is None:
            return []
        listing = (f"ps -e -o pid= -o pgid= -o stat= | awk -v g={self.pgid} "
                   "'$2 == g && $3 !~ /^Z/ { print $1 }'")
        try:
            result = runtime().call(self.pooled.connection.run(listing, check=False, timeout=CHECK_TIMEOUT_SECONDS),
                                    CHECK_TIMEOUT_SECONDS + 5)
        except Exception:
            return []
        return [int(pid) for pid in str(result.stdout or "").split() if pid.isdigit()]
