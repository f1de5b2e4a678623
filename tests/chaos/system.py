"""A whole Opsflow on this machine for fault injection: a private PostgreSQL cluster and a
private Redis server (so that restarting them disturbs nothing else), and the Procfile's
real processes (web, worker, jobs, beat) started as it starts them.

Nothing here is mocked: faults are real signals to real pids, real terminated Postgres
backends, a real FLUSHDB. Tests talk to the system the way its users do (REST with a
token) and read the database directly for their assertions.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psycopg
import redis
import requests
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "opsflow-chaos-secret-key-used-by-the-fault-tests-only-0123456789"
TERMINAL = {"succeeded", "failed", "rejected", "timeout", "canceled", "terminated"}
BOOTSTRAP = """
from apps.accounts.models import Membership, Organization
from apps.accounts.services import api_token_create
from apps.inventory.services import host_create
from django.contrib.auth import get_user_model

organization = Organization.objects.create(name="Chaos", slug="chaos")
user = get_user_model().objects.create_user(username="chaos", email="chaos@example.com")
Membership.objects.create(organization=organization, user=user, role="owner")
host = host_create(organization=organization, actor=None, hostname="localhost", primary_ip="127.0.0.1",
                   connection="local")
print("BOOT", api_token_create(user=user, name="chaos")[1], host.pk)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(check: Callable[[], Any], *, what: str, timeout: float = 60.0, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            value = check()
            if value:
                return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(every)


# --- private servers ------------------------------------------------------------------
class Postgres:
    """A throwaway cluster run by the `postgres` user (PostgreSQL refuses to run as root)."""

    def __init__(self, base: Path) -> None:
        self.bin = Path(sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))[-1]).parent
        self.data = base / "pgdata"
        self.socket_dir = base / "pgsock"
        self.port = free_port()
        self.log = base / "postgres.log"
        for path in (self.data, self.socket_dir):
            path.mkdir(parents=True)
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            user = pwd.getpwnam("postgres")
            for path in (base, self.data, self.socket_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
            self.log.touch()
            os.chown(self.log, user.pw_uid, user.pw_gid)
        self._run(self.bin / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/opsflow"

    def _run(self, *argv: Any) -> None:
        command = [str(arg) for arg in argv]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._run(self.bin / "pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
                  " -c max_connections=100", "start")

    def stop(self, mode: str = "fast") -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(self.bin / "pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def answers(self) -> bool:
        try:
            self.execute("SELECT 1", database="postgres")
        except psycopg.OperationalError:
            return False
        return True

    def execute(self, sql: str, params: Any = None, *, database: str = "opsflow") -> list[tuple]:
        with psycopg.connect(f"postgres://postgres@127.0.0.1:{self.port}/{database}", autocommit=True) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def product_backends(self) -> int:
        [(count,)] = self.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = 'opsflow' AND pid <> pg_backend_pid()"
        )
        return count

    def terminate_product_backends(self) -> int:
        rows = self.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = 'opsflow' AND pid <> pg_backend_pid()"
        )
        return len(rows)


class Redis:
    def __init__(self, base: Path) -> None:
        self.port = free_port()
        self.dir = base / "redis"
        self.dir.mkdir()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        wait_until(lambda: self.client().ping(), what="redis-server")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)


# --- the Procfile's processes ------------------------------------------------------------
@dataclass
class Child:
    role: str
    argv: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self, env: dict[str, str]) -> None:
        self._log = self.log_path.open("ab")
        self.popen = subprocess.Popen(self.argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
                                      stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill9(self) -> None:
        """SIGKILL to the main process only: its pool children and jobs are orphaned, as
        when the OOM killer or a crash takes it."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        assert self.popen is not None
        self.popen.wait(10)

    def stop(self) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(5)
        if self._log is not None:
            self._log.close()

    def tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def procfile(*, port: int, schedule: Path) -> dict[str, list[str]]:
    commands = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if ":" not in line or line.lstrip().startswith("#"):
            continue
        role, command = line.split(":", 1)
        argv = shlex.split(command.replace("${PORT:-8000}", str(port)).replace("0.0.0.0", "127.0.0.1"))
        argv[0] = str(Path(sys.executable).parent / argv[0])
        if role.strip() == "beat":
            argv += ["-s", str(schedule)]
        commands[role.strip()] = argv
    return commands


class System:
    """Postgres + Redis + web/worker/jobs/beat, with the product's production defaults."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.postgres = Postgres(base)
        self.redis = Redis(base)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.effects = base / "effects"
        self.effects.touch()
        self.commands = procfile(port=self.port, schedule=base / "celerybeat-schedule")
        self.children: dict[str, Child] = {}
        self.extra: list[Child] = []
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS"))},
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": self.postgres.url,
            "REDIS_URL": self.redis.url,
            "SECRET_KEY": SECRET_KEY,
            "OPSFLOW_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "OPSFLOW_VAR_DIR": str(base / "var"),
            "CHANNELS_PREFIX": "opsflow-chaos",
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
        self.token = ""
        self.host_id = 0

    # --- life cycle ------------------------------------------------------------------
    def start(self) -> None:
        self.postgres.start()
        self.postgres.execute("CREATE DATABASE opsflow", database="postgres")
        self.redis.start()
        self.manage("migrate", "--noinput")
        boot = self.manage("shell", "-c", BOOTSTRAP).split("BOOT", 1)[1].split()
        self.token, self.host_id = boot[0], int(boot[1])
        for role in self.commands:
            self.start_role(role)
        self.wait_ready()

    def manage(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def start_role(self, role: str, *, extra: bool = False) -> Child:
        child = Child(role, self.commands[role], self.base / f"{role}.log")
        child.start(self.env)
        if extra:
            self.extra.append(child)
        else:
            self.children[role] = child
        return child

    def restart_role(self, role: str) -> Child:
        self.children[role].stop()
        return self.start_role(role)

    def wait_ready(self, timeout: float = 90) -> None:
        wait_until(lambda: requests.get(f"{self.url}/api/", timeout=2).status_code < 500, what="web", timeout=timeout)
        wait_until(lambda: {"engine", "jobs"} <= self.celery_nodes(), what="celery workers", timeout=timeout)

    def celery_nodes(self) -> set[str]:
        done = subprocess.run(
            [sys.executable, "-m", "celery", "-A", "config", "inspect", "ping", "--json", "-t", "1"],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=30,
        )
        return {line.split("@")[0].strip('{" ') for line in done.stdout.split(",") if "@" in line}

    def stop(self) -> None:
        for child in [*self.extra, *reversed(list(self.children.values()))]:
            child.stop()
        self.redis.stop()
        self.postgres.stop("immediate")

    def logs(self) -> str:
        return "\n".join(f"--- {child.role}\n{child.tail()}" for child in self.children.values())

    # --- as a user -------------------------------------------------------------------
    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Token {self.token}", **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)

    def workflow(self, steps: list[dict[str, Any]], **fields: Any) -> int:
        created = self.api("post", "/api/workflows/", json={"name": f"chaos-{time.monotonic_ns()}",
                                                            "steps": steps, **fields})
        assert created.status_code == 201, created.text
        published = self.api("post", f"/api/workflows/{created.json()['id']}/publish/")
        assert published.status_code == 200, published.text
        return created.json()["id"]

    def effect_step(self, step_id: str, *, sleep: float = 0, on_success: str | None = None,
                    **fields: Any) -> dict[str, Any]:
        """A command step that records its side effect once it has run to its end."""
        command = f"sleep {sleep}; " if sleep else ""
        command += f"echo {{{{ instance.id }}}} {step_id} >> {self.effects}"
        return {"id": step_id, "type": "command", "config": {"command": command}, "on_success": on_success,
                **fields}

    def run(self, workflow_id: int) -> int:
        started = self.api("post", f"/api/workflows/{workflow_id}/run/", json={"hosts": [self.host_id]})
        assert started.status_code in (200, 201, 202), started.text
        return started.json()["id"]

    # --- reading the truth -------------------------------------------------------------
    def statuses(self, ids: list[int]) -> dict[int, str]:
        rows = self.postgres.execute("SELECT id, status FROM engine_workflowinstance WHERE id = ANY(%s)", [ids])
        return dict(rows)

    def wait_terminal(self, ids: list[int], *, timeout: float) -> float:
        """Seconds until every instance is terminal; fails with what is stuck."""
        started = time.monotonic()
        while True:
            statuses = self.statuses(ids)
            if all(status in TERMINAL for status in statuses.values()) and len(statuses) == len(ids):
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                stuck = {pk: status for pk, status in statuses.items() if status not in TERMINAL}
                raise AssertionError(f"not terminal within {timeout} s: {stuck}\n{self.logs()}")
            time.sleep(0.25)

    def effect_counts(self) -> dict[tuple[int, str], int]:
        counts: dict[tuple[int, str], int] = {}
        for line in self.effects.read_text().splitlines():
            instance, step = line.split()
            counts[(int(instance), step)] = counts.get((int(instance), step), 0) + 1
        return counts

    def job_processes(self) -> list[int]:
        """Every process on the machine still running a job's command of this system."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                if str(self.effects).encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
        return found
