"""Signals to a job's process group, and the check that none of it still runs.

Each job runs in its own session (start_new_session=True), so its process group id is
the pid of the process we started and every descendant that did not call setsid()
shares it: one killpg reaches a script's background children too.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

PROC = Path("/proc")


def signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Send `sig` to the group; False when no process of the group is left."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member changed user (setuid); nothing more we can do
        return True
    return True


def group_members(pgid: int) -> list[int]:
    """Pids of the group's members that are not zombies (Linux /proc)."""
    members = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ..." - comm may contain spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def group_alive(pgid: int) -> bool:
    """True while a live process of the group exists.

    killpg(pgid, 0) also succeeds for zombies: orphans killed with the group wait there
    until init reaps them, and not every container's init does. /proc tells them apart.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not PROC.is_dir():
        return True
    return bool(group_members(pgid))


def wait_group_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while group_alive(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def stop_group(pgid: int, grace: float) -> bool:
    """SIGTERM to the group, SIGKILL to what is left after `grace`; True once verified
    that no process of the group remains."""
    if not group_alive(pgid):
        return True
    signal_group(pgid, signal.SIGTERM)
    if wait_group_gone(pgid, grace):
        return True
    signal_group(pgid, signal.SIGKILL)
    return wait_group_gone(pgid, 5.0)


def process_is_celery_worker(pid: int) -> bool:
    """True while `pid` is a live Celery worker process on this machine. A pid that was
    reused by another program since (the worker died) is not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat = (PROC / str(pid) / "stat").read_text()
        if stat[stat.rfind(")") + 2 :].split()[0] in ("Z", "X"):
            return False
        return b"celery" in (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return False
