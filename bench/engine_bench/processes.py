"""The processes under test, started as the Procfile starts them, and what /proc says
about them (memory, CPU). psutil is not a dependency: everything here reads /proc.

Each process gets its own session (start_new_session), so one killpg reaches it and its
pool children; `stop` always ends with SIGKILL to the group if SIGTERM was not enough.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

PROC = Path("/proc")
CLK_TCK = os.sysconf("SC_CLK_TCK")
STOP_GRACE_SECONDS = 20.0


class StartupError(RuntimeError):
    pass


@dataclass
class Child:
    role: str
    argv: list[str]
    log_path: Path
    counts_for_memory: bool = True
    popen: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self, *, cwd: Path, env: dict[str, str]) -> None:
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            self.argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            _killpg(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace)
        _killpg(self.pid, signal.SIGKILL)  # whatever is left of the group (pool children)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)
        if self._log is not None:
            self._log.close()


def _killpg(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def wait_until(check: Callable[[], bool], *, child: Child, what: str, timeout: float = 120.0) -> float:
    """Poll `check` until true; a dead child or a timeout raises with the child's log."""
    started = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - started
        except Exception:  # not ready yet (connection refused, broker not up, ...)
            pass
        if not child.alive():
            raise StartupError(f"{child.role} exited while waiting for {what}:\n{child.tail()}")
        if time.monotonic() - started > timeout:
            raise StartupError(f"{child.role}: no {what} within {timeout:.0f} s:\n{child.tail()}")
        time.sleep(0.2)


# --- /proc readings ---------------------------------------------------------------------
def _stat_fields(pid: int) -> list[str]:
    text = (PROC / str(pid) / "stat").read_text()
    return text[text.rfind(")") + 2 :].split()  # fields from "state" on; comm may hold spaces


def parents() -> dict[int, int]:
    result = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                result[int(entry.name)] = int(_stat_fields(int(entry.name))[1])
            except (OSError, ValueError, IndexError):
                continue
    return result


def tree(root: int) -> list[int]:
    """`root` and every live descendant (pool children, job subprocesses)."""
    ppids = parents()
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, ppid in ppids.items() if ppid in frontier]
        found += frontier
    return [pid for pid in found if pid in ppids]


def status_kb(pid: int, key: str) -> int:
    """A `kB` line of /proc/<pid>/status: VmRSS (now) or VmHWM (peak)."""
    with contextlib.suppress(OSError):
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    return 0


def pss_kb(pid: int) -> int:
    """Proportional set size: shared pages split between their sharers (pool children
    share most of their parent's memory, which an RSS sum counts once per process)."""
    with contextlib.suppress(OSError):
        for line in (PROC / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid: int, *, reaped_children: bool = True) -> float:
    """utime + stime, plus (by default) the reaped children's: the jobs' subprocesses."""
    try:
        fields = _stat_fields(pid)
    except OSError:
        return 0.0
    return sum(int(value) for value in fields[11 : 15 if reaped_children else 13]) / CLK_TCK


def comm(pid: int) -> str:
    with contextlib.suppress(OSError):
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:80].strip()
    return ""


def postgres_cpu() -> float:
    """CPU seconds of the local Postgres server so far: the postmaster, its live children,
    and (in the postmaster's reaped-children counters) the backends that have ended.
    Every database's work is in it; backends come and go with each connection, so
    counting only the bench database's live backends would miss most of its work."""
    ppids = parents()
    servers = [pid for pid in ppids if comm(pid).split(" ")[0].endswith("/postgres") and "postgres" not in
               comm(ppids[pid]).split(" ")[0]]
    return sum(cpu_seconds(pid) + sum(cpu_seconds(child, reaped_children=False) for child in tree(pid)[1:])
               for pid in servers)


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / CLK_TCK, sum(values) / CLK_TCK


class ProcessSet:
    def __init__(self, *, cwd: Path, env: dict[str, str]) -> None:
        self.cwd, self.env = cwd, env
        self.children: dict[str, Child] = {}
        self.final_cpu: dict[str, float] = {}  # roles stopped already: their last reading

    def start(self, child: Child) -> Child:
        self.children[child.role] = child
        child.start(cwd=self.cwd, env=self.env)
        return child

    def stop(self, role: str) -> None:
        child = self.children.get(role)
        if child is not None:
            self.final_cpu[role] = sum(cpu_seconds(pid) for pid in tree(child.pid))
            del self.children[role]
            child.stop()

    def stop_all(self) -> None:
        for role in reversed(list(self.children)):
            self.stop(role)

    def check_alive(self) -> None:
        for child in self.children.values():
            if not child.alive():
                raise StartupError(f"{child.role} died (exit {child.popen.returncode}):\n{child.tail()}")

    def processes(self, *, memory_only: bool = True) -> list[dict[str, Any]]:
        rows = []
        for child in self.children.values():
            if memory_only and not child.counts_for_memory:
                continue
            for pid in tree(child.pid):
                rows.append({"role": child.role, "pid": pid, "main": pid == child.pid, "cmd": comm(pid)})
        return rows

    def memory(self) -> dict[str, Any]:
        """RSS now, PSS now and peak RSS (VmHWM) for every process of every role."""
        rows = []
        for row in self.processes():
            pid = row["pid"]
            rows.append({**row, "rss_mb": status_kb(pid, "VmRSS") / 1024, "pss_mb": pss_kb(pid) / 1024,
                         "peak_rss_mb": status_kb(pid, "VmHWM") / 1024})
        return {
            "processes": rows,
            "rss_total_mb": sum(r["rss_mb"] for r in rows),
            "pss_total_mb": sum(r["pss_mb"] for r in rows),
            "peak_rss_max_mb": max((r["peak_rss_mb"] for r in rows), default=0.0),
        }

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far per role (its whole process tree)."""
        totals: dict[str, float] = dict(self.final_cpu)
        for row in self.processes(memory_only=False):
            totals[row["role"]] = totals.get(row["role"], 0.0) + cpu_seconds(row["pid"])
        busy, _ = machine_cpu()
        totals["machine_busy"] = busy
        return totals


class CpuMeter:
    """CPU seconds per role over an interval, the Postgres server (all its databases), the
    bench process, and what the rest of the machine used ("other": Redis and anything
    else running, such as a test suite: the noise in the numbers)."""

    def __init__(self, processes: ProcessSet) -> None:
        self.processes = processes
        self.start = processes.cpu()
        self.postgres_start = postgres_cpu()
        # The bench process reaps the processes it stops: their CPU is not the bench's.
        self.bench_start = cpu_seconds(os.getpid(), reaped_children=False)
        self.wall_start = time.monotonic()

    def stop(self) -> dict[str, float]:
        end = self.processes.cpu()
        used = {role: round(end[role] - self.start.get(role, 0.0), 2) for role in end}
        used["bench_process"] = round(cpu_seconds(os.getpid(), reaped_children=False) - self.bench_start, 2)
        used["postgres"] = round(postgres_cpu() - self.postgres_start, 2)
        ours = sum(value for role, value in used.items() if role != "machine_busy")
        used["other"] = round(used.pop("machine_busy") - ours, 2)
        used["wall_seconds"] = round(time.monotonic() - self.wall_start, 2)
        return used
