"""`manage.py standalone`: the whole of Opsflow on one machine, supervised by one command.

Private Redis (unless REDIS_URL is set) -> migrate, collectstatic, demo data -> web,
worker, jobs and beat as child processes (the Procfile's commands) -> Ctrl-C stops them
all. manage.py writes var/secret_key and var/encryption_keys before the settings load
(apps.site.standalone_env).
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from apps.site.bootstrap import ADMIN_USERNAME, DemoBootstrap, demo_bootstrap
from apps.site.embedded_redis import RedisUnavailable, redis_answers, redis_server_argv, redis_server_binary
from apps.site.supervisor import ChildExited, StopRequested, Supervisor

WILDCARD_HOSTS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104
WEB_START_TIMEOUT = 120.0
REDIS_START_TIMEOUT = 15.0


def process_commands(*, host: str, port: int, var_dir: Path, workers: bool) -> list[tuple[str, list[str]]]:
    """The Procfile's processes, run with this interpreter (the venv)."""
    python = sys.executable
    celery = [python, "-m", "celery", "-A", "config"]
    commands = [
        ("web", [python, "-m", "uvicorn", "config.asgi:application", "--host", host, "--port", str(port),
                 "--lifespan", "off", "--timeout-graceful-shutdown", "5"]),
    ]
    if workers:
        commands += [
            ("worker", [*celery, "worker", "-Q", "engine,default", "-c", "2", "-n", "engine@%h"]),
            ("jobs", [*celery, "worker", "-Q", "jobs", "--pool", "threads", "-c", "4", "--prefetch-multiplier", "1",
                      "-n", "jobs@%h"]),
            ("beat", [python, "-m", "celery", "-A", "config.beat", "beat", "-s", str(var_dir / "celerybeat-schedule")]),
        ]
    return commands


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def ensure_port_free(host: str, port: int) -> None:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise CommandError(f"cannot resolve --host {host}: {exc}") from exc
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port} ({exc.strerror}); pass another --port") from exc


class Command(BaseCommand):
    help = "Run Opsflow on this machine: private Redis, migrations, demo data, web + workers + beat."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address the web server listens on.")
        parser.add_argument("--port", type=int, default=8000, help="Port the web server listens on.")
        parser.add_argument("--no-workers", action="store_true", help="Run the web server only (no Celery).")

    def handle(self, *args, host: str, port: int, no_workers: bool, **options) -> None:
        supervisor = Supervisor(self.stdout)
        supervisor.install_signal_handlers()
        failure = None
        try:
            self.run(supervisor, host=host, port=port, workers=not no_workers)
        except StopRequested as exc:
            supervisor.say(f"{exc}; stopping")
        except (ChildExited, CommandError, RedisUnavailable) as exc:
            failure = str(exc)
            supervisor.say(f"{failure}; stopping")
        finally:
            supervisor.stop_all(last=("redis",))
            supervisor.restore_signal_handlers()
        if failure:
            raise CommandError(failure)
        supervisor.say("stopped")

    def run(self, supervisor: Supervisor, *, host: str, port: int, workers: bool) -> None:
        ensure_port_free(host, port)
        redis_url = self.start_redis(supervisor)
        bootstrap = self.prepare_database(supervisor)
        connections.close_all()  # the children open their own
        env = {
            **os.environ,
            "REDIS_URL": redis_url,
            "OPSFLOW_VAR_DIR": str(settings.VAR_DIR),
            "OPSFLOW_STANDALONE": "1",
            "PYTHONUNBUFFERED": "1",
        }
        for name, argv in process_commands(host=host, port=port, var_dir=settings.VAR_DIR, workers=workers):
            supervisor.spawn(name, argv, env=env, cwd=settings.BASE_DIR)
        local = WILDCARD_HOSTS.get(host, host)
        if not supervisor.wait(until=lambda: port_open(local, port), timeout=WEB_START_TIMEOUT):
            raise CommandError(f"web did not accept connections on {host}:{port} within {WEB_START_TIMEOUT:.0f} s")
        self.banner(supervisor, host=local if host in WILDCARD_HOSTS else host, port=port, bootstrap=bootstrap)
        supervisor.wait()

    def start_redis(self, supervisor: Supervisor) -> str:
        url = settings.REDIS_URL
        if os.environ.get("REDIS_URL"):
            if not supervisor.wait(until=lambda: redis_answers(url), timeout=REDIS_START_TIMEOUT):
                raise CommandError(f"Redis at {redact(url)} (REDIS_URL) does not answer PING")
            supervisor.say(f"redis: {redact(url)}")
            return url
        socket_path = settings.REDIS_SOCKET
        if socket_path.exists() and redis_answers(url):
            raise CommandError(
                f"another Opsflow is already running on {settings.VAR_DIR} (its Redis answers on {socket_path}); "
                "stop it, or set OPSFLOW_VAR_DIR to another directory"
            )
        binary = redis_server_binary()
        argv = redis_server_argv(binary, socket_path=socket_path)
        supervisor.spawn("redis", argv, env=os.environ, cwd=settings.VAR_DIR)
        if not supervisor.wait(until=lambda: redis_answers(url), timeout=REDIS_START_TIMEOUT):
            raise CommandError(f"the private Redis did not answer PING on {socket_path}")
        supervisor.say(f"redis: private server on {socket_path} ({binary})")
        return url

    def prepare_database(self, supervisor: Supervisor) -> DemoBootstrap:
        database = settings.DATABASES["default"]
        if database["ENGINE"].endswith("sqlite3"):
            supervisor.say(f"database: SQLite {database['NAME']}")
        else:
            supervisor.say(f"database: {database['ENGINE'].rsplit('.', 1)[-1]} {database['NAME']}")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        bootstrap = demo_bootstrap(admin_password=os.environ.get("OPSFLOW_ADMIN_PASSWORD") or None)
        if bootstrap.created:
            supervisor.say("created " + ", ".join(bootstrap.created))
        if bootstrap.admin_password and not os.environ.get("OPSFLOW_ADMIN_PASSWORD"):
            supervisor.say(f"password of {ADMIN_USERNAME}: {bootstrap.admin_password} (shown only on this first start)")
        return bootstrap

    def banner(self, supervisor: Supervisor, *, host: str, port: int, bootstrap: DemoBootstrap) -> None:
        base = f"http://{f'[{host}]' if ':' in host else host}:{port}/"
        if bootstrap.admin_password and not os.environ.get("OPSFLOW_ADMIN_PASSWORD"):
            login = f"{ADMIN_USERNAME} / {bootstrap.admin_password}  (generated now; it is not shown again)"
        elif bootstrap.admin_password:
            login = f"{ADMIN_USERNAME} / the password in OPSFLOW_ADMIN_PASSWORD"
        else:
            login = f"{ADMIN_USERNAME} (password printed on the first start, or OPSFLOW_ADMIN_PASSWORD then)"
        supervisor.say(f"Opsflow is running at {base}")
        supervisor.say(f"  admin site: {base}admin/")
        supervisor.say(f"  login:      {login}")
        supervisor.say("  press Ctrl-C to stop")
