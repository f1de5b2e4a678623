"""Everything before the first measurement: the environment, a fresh database, the
Procfile's processes started for real and waited for."""

from __future__ import annotations

import os
import shlex
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psycopg
from cryptography.fernet import Fernet

from bench.engine_bench.processes import Child, ProcessSet, wait_until

ROOT = Path(__file__).resolve().parents[2]
PG_SERVER = os.environ.get("OPSFLOW_BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "opsflow_bench"
REDIS_URL = os.environ.get("OPSFLOW_BENCH_REDIS", "redis://127.0.0.1:6379/12")
# Fixed and public on purpose: the bench database is dropped after the run.
BENCH_SECRET_KEY = "opsflow-bench-secret-key-not-used-anywhere-else-0123456789"
CELERY_ROLES = ("worker", "jobs")
BASELINE_NODE = "baseline-bench@%h"


def bench_environment(tmp: Path) -> dict[str, str]:
    """Set (and return) the environment of the bench process and every child."""
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"{PG_SERVER}/{DB_NAME}",
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": BENCH_SECRET_KEY,
        "OPSFLOW_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "OPSFLOW_VAR_DIR": str(tmp / "var"),
        "OPSFLOW_JOBS_DIR": str(tmp / "jobs"),
        "CHANNELS_PREFIX": "opsflow-bench",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    os.environ.update(env)
    return dict(os.environ)


def _admin(sql: str) -> None:
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def database_recreate() -> None:
    _admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    _admin(f"CREATE DATABASE {DB_NAME}")


def database_drop() -> None:
    from django.db import connections

    connections.close_all()
    _admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def redis_flush() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def bench_fixtures() -> tuple[Any, Any]:
    from django.contrib.auth import get_user_model

    from apps.accounts.models import Organization

    organization = Organization.objects.create(name="Bench", slug="bench")
    user = get_user_model().objects.create_user(username="bench", email="bench@example.com")
    return organization, user


# --- the Procfile's processes --------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def procfile_commands(*, port: int, tmp: Path) -> dict[str, list[str]]:
    """The Procfile's commands as they are, with the venv's executables, the web process
    on 127.0.0.1:<port> and beat's schedule file in the temp dir (not in the checkout)."""
    commands = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if ":" not in line or line.lstrip().startswith("#"):
            continue
        role, command = line.split(":", 1)
        argv = shlex.split(command.replace("${PORT:-8000}", str(port)).replace("0.0.0.0", "127.0.0.1"))
        argv[0] = str(Path(sys.executable).parent / argv[0])
        if role.strip() == "beat":
            argv += ["-s", str(tmp / "celerybeat-schedule")]
        commands[role.strip()] = argv
    return commands


def node_prefix(argv: list[str]) -> str:
    name = argv[argv.index("-n") + 1] if "-n" in argv else "celery@%h"
    return name.split("@")[0] + "@"


def start_system(processes: ProcessSet, *, tmp: Path) -> dict[str, Any]:
    """Start web, worker, jobs and beat together and wait until each answers."""
    port = free_port()
    commands = procfile_commands(port=port, tmp=tmp)
    for role, argv in commands.items():
        processes.start(Child(role, argv, tmp / f"{role}.log"))
    ready = {"web_port": port, "commands": {role: shlex.join(argv) for role, argv in commands.items()}}
    ready["web_ready_s"] = round(wait_until(lambda: _http_answers(port), child=processes.children["web"],
                                            what="HTTP answer"), 2)
    for role in CELERY_ROLES:
        prefix = node_prefix(commands[role])
        ready[f"{role}_ready_s"] = round(wait_until(lambda p=prefix: _pong(p), child=processes.children[role],
                                                    what="ping reply"), 2)
    ready["beat_ready_s"] = round(wait_until(lambda: any(tmp.glob("celerybeat-schedule*")),
                                             child=processes.children["beat"], what="schedule file"), 2)
    return ready


def start_baseline_worker(processes: ProcessSet, *, tmp: Path) -> Child:
    from bench.baseline_tasks import QUEUE

    celery = str(Path(sys.executable).parent / "celery")
    argv = [celery, "-A", "bench.baseline_tasks", "worker", "-Q", QUEUE, "-n", BASELINE_NODE]
    child = processes.start(Child("baseline", argv, tmp / "baseline.log", counts_for_memory=False))
    wait_until(lambda: _pong("baseline-bench@", baseline=True), child=child, what="ping reply")
    return child


def _pong(prefix: str, *, baseline: bool = False) -> bool:
    if baseline:
        from bench.baseline_tasks import app
    else:
        from config.celery import app
    replies = app.control.ping(timeout=1.0) or []
    return any(name.startswith(prefix) for reply in replies for name in reply)


def _http_answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/", timeout=2):
            return True
    except urllib.error.HTTPError:  # 401/403: it answered
        return True
