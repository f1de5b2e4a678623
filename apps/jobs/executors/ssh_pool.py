"""SSH connections of one jobs worker process: an asyncio loop in a thread of its own, and
connections reused per (host, user).

- The loop thread belongs to the process that started it: a forked child (Celery's
  prefork pool) starts its own loop and pool instead of using its parent's.
- One connection per (address, port, user, credential) with at most SESSIONS_PER_CONNECTION
  job sessions on it (sshd's MaxSessions is 10 by default: the two left are for the stop
  and verify channels). At most OPSFLOW_SSH_MAX_CONCURRENCY connections per process; idle
  ones are closed first when that is reached.
- Host keys: only the host's trusted keys are accepted (never known_hosts=None). The key
  the server offered is kept, so that an unknown or changed key can be recorded and named.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncssh
from django.conf import settings

CONNECT_TIMEOUT_SECONDS = 10
KEEPALIVE_SECONDS = 5
KEEPALIVE_COUNT = 3
SESSIONS_PER_CONNECTION = 8
T = TypeVar("T")


@dataclass(frozen=True)
class Target:
    """Where and as whom to connect; `password` or `private_key` is the decrypted secret."""

    host_id: int
    hostname: str
    address: str
    port: int
    username: str
    credential_id: int
    credential_version: str
    password: str | None = field(default=None, repr=False)
    private_key: str | None = field(default=None, repr=False)
    trusted_keys: tuple[str, ...] = ()

    @property
    def pool_key(self) -> tuple[Any, ...]:
        return (self.address, self.port, self.username, self.credential_id, self.credential_version)


class ConnectFailure(Exception):
    """`error_class` is HostKeyUnknown, HostKeyMismatch, AuthFailed, HostUnreachable or ConfigError;
    `offered` is the host key the server presented when its key was refused."""

    def __init__(self, error_class: str, message: str, offered: asyncssh.SSHKey | None = None) -> None:
        super().__init__(message)
        self.error_class, self.message, self.offered = error_class, message, offered


class _KeyRecorder(asyncssh.SSHClient):
    """Sees the key the server offered when it is not among the trusted ones, and refuses it."""

    def __init__(self) -> None:
        self.offered: asyncssh.SSHKey | None = None

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        self.offered = key
        return False


@dataclass
class Pooled:
    connection: asyncssh.SSHClientConnection
    sessions: asyncio.Semaphore
    users: int = 0

    def serves(self, target: Target) -> bool:
        """Still open, and the key it was opened with is still trusted (a revoke counts at once)."""
        if self.connection.is_closed():
            return False
        key = self.connection.get_server_host_key()
        return key is not None and public_line(key) in target.trusted_keys


def public_line(key: asyncssh.SSHKey) -> str:
    return " ".join(key.export_public_key("openssh").decode().split()[:2])


class SSHPool:
    """Lives in the loop thread only (no locking against threads). Connecting to one host
    never waits for another: each (host, user) has its own lock."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_connections: int) -> None:
        self.loop = loop
        self.max_connections = max_connections
        self.connections: dict[tuple[Any, ...], Pooled] = {}
        self.locks: dict[tuple[Any, ...], asyncio.Lock] = {}
        self.opening = 0

    async def acquire(self, target: Target) -> Pooled:
        key = target.pool_key
        async with self.locks.setdefault(key, asyncio.Lock()):
            pooled = self.connections.get(key)
            if pooled is not None and not pooled.serves(target):
                self._drop(key)
                pooled = None
            if pooled is None:
                await self._make_room()
                self.opening += 1
                try:
                    pooled = Pooled(await connect(target), asyncio.Semaphore(SESSIONS_PER_CONNECTION))
                finally:
                    self.opening -= 1
                self.connections[key] = pooled
            pooled.users += 1
        return pooled

    async def release(self, target: Target, pooled: Pooled) -> None:
        pooled.users -= 1
        if pooled.connection.is_closed() and self.connections.get(target.pool_key) is pooled:
            self._drop(target.pool_key)

    async def _make_room(self) -> None:
        """Wait until one more connection fits under max_connections, closing idle ones first."""
        while True:
            for key, pooled in list(self.connections.items()):
                if pooled.connection.is_closed():
                    self._drop(key)
            if len(self.connections) + self.opening < self.max_connections:
                return
            idle = [key for key, pooled in self.connections.items() if pooled.users == 0]
            if idle:
                self._drop(idle[0])
            else:  # every connection is busy: wait for one to be released
                await asyncio.sleep(0.1)

    def _drop(self, key: tuple[Any, ...]) -> None:
        pooled = self.connections.pop(key)
        pooled.connection.close()


async def connect(target: Target) -> asyncssh.SSHClientConnection:
    recorder = _KeyRecorder()
    options: dict[str, Any] = {
        "username": target.username,
        "known_hosts": ([asyncssh.import_public_key(line) for line in target.trusted_keys], [], []),
        "client_factory": lambda: recorder,
        "config": None,  # nothing of the worker's own ~/.ssh: no config, agent or default keys
        "agent_path": None,
        "client_keys": None,
        "keepalive_interval": KEEPALIVE_SECONDS,
        "keepalive_count_max": KEEPALIVE_COUNT,
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "login_timeout": CONNECT_TIMEOUT_SECONDS,
    }
    if target.password is not None:
        options["password"] = target.password
    if target.private_key is not None:
        try:
            options["client_keys"] = [asyncssh.import_private_key(target.private_key)]
        except (asyncssh.KeyImportError, ValueError):
            raise ConnectFailure("ConfigError", "The host's SSH key credential does not hold a readable, "
                                                "unencrypted private key.") from None
    try:
        return await asyncio.wait_for(asyncssh.connect(target.address, target.port, **options),
                                      CONNECT_TIMEOUT_SECONDS + 5)
    except asyncssh.HostKeyNotVerifiable:
        raise _refused_key(target, recorder.offered) from None
    except asyncssh.PermissionDenied:
        raise ConnectFailure("AuthFailed", f"{target.hostname}: authentication as {target.username!r} was "
                                           "refused (check the host's credential and user).") from None
    except (OSError, TimeoutError, asyncssh.Error) as exc:
        reason = str(exc) or type(exc).__name__
        raise ConnectFailure("HostUnreachable", f"{target.hostname} ({target.address}:{target.port}) did not "
                                                f"answer over SSH: {reason}") from None


def _refused_key(target: Target, offered: asyncssh.SSHKey | None) -> ConnectFailure:
    fingerprint = offered.get_fingerprint("sha256") if offered is not None else "unknown"
    if target.trusted_keys:
        return ConnectFailure(
            "HostKeyMismatch",
            f"{target.hostname} offered host key {fingerprint}, which differs from its trusted key: "
            "refusing to connect (fail closed). If the key changed legitimately, trust the new key "
            "on the host's page and start a new run.", offered)
    return ConnectFailure(
        "HostKeyUnknown",
        f"{target.hostname} offered host key {fingerprint}, which is not trusted yet: check it and "
        "trust it on the host's page, then retry.", offered)


class _Runtime:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.pool = SSHPool(self.loop, settings.OPSFLOW_SSH_MAX_CONCURRENCY)
        threading.Thread(target=self.loop.run_forever, name="ssh-loop", daemon=True).start()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)


_runtime: _Runtime | None = None
_runtime_lock = threading.Lock()


def runtime() -> _Runtime:
    global _runtime
    with _runtime_lock:
        if _runtime is None or _runtime.pid != os.getpid():
            _runtime = _Runtime()
        return _runtime
