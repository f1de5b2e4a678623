"""`manage.py standalone` end to end: what `make run` gives someone on a fresh clone."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import offline_page
from tests.standalone.conftest import BASE_DIR, cmdline, process_tree, standalone_env, still_running

pytestmark = pytest.mark.xdist_group("standalone")

LOGIN_LINE = r"login:\s+admin / (\S+)"


def admin_login(base_url: str, password: str) -> requests.Response:
    session = requests.Session()
    page = session.get(f"{base_url}admin/login/", timeout=10)
    assert page.status_code == 200
    return session.post(
        f"{base_url}admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": session.cookies["csrftoken"], "username": "admin",
              "password": password, "next": "/admin/"},
        timeout=10,
    )


def is_admin_index(response: requests.Response, base_url: str) -> bool:
    return response.status_code == 200 and response.url == f"{base_url}admin/" and 'id="logout-form"' in response.text


def celery_pong(var_dir: Path, deadline: float) -> dict:
    """Ask the workers through the private Redis, as an operator would."""
    replies: dict = {}
    while time.monotonic() < deadline:
        result = subprocess.run(
            [sys.executable, "-m", "celery", "-A", "config", "inspect", "ping", "--json", "-t", "1"],
            cwd=BASE_DIR, env={**standalone_env(var_dir), "DJANGO_SETTINGS_MODULE": "config.settings"},
            capture_output=True, text=True, timeout=30,
        )
        if result.returncode == 0:
            replies = json.loads(result.stdout.strip().splitlines()[-1])
            if {name.split("@")[0] for name in replies} >= {"engine", "jobs"}:
                return replies
        time.sleep(0.5)
    return replies


def db_rows(var_dir: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(var_dir / "opsflow.sqlite3") as connection:
        return connection.execute(sql).fetchall()


def test_fresh_start_serves_admin_runs_workers_and_stops_cleanly_on_sigint(run_standalone, var_dir):
    standalone = run_standalone()
    assert standalone.wait_ready() == standalone.base_url
    password = standalone.wait_for(LOGIN_LINE).group(1)

    # Secrets were generated for the fresh clone, readable by the owner only.
    for name in ("secret_key", "encryption_keys"):
        assert (var_dir / name).stat().st_mode & 0o777 == 0o600
    assert (var_dir / "redis.sock").is_socket()
    assert is_admin_index(admin_login(standalone.base_url, password), standalone.base_url)
    assert not is_admin_index(admin_login(standalone.base_url, password + "x"), standalone.base_url)

    replies = celery_pong(var_dir, deadline=time.monotonic() + 30)
    assert {name.split("@")[0] for name in replies} == {"engine", "jobs"}, standalone.output
    children = process_tree(standalone.process.pid)
    commands = " ".join(cmdline(pid) for pid, _ in children)
    for needle in ("redis-server", "uvicorn config.asgi:application", "engine@", "jobs@", "celery -A config.beat beat"):
        assert needle in commands

    assert standalone.stop(signal.SIGINT, timeout=30) == 0, standalone.output
    assert not still_running(children)
    assert standalone.output.splitlines()[-1] == "opsflow: stopped"
    assert not (var_dir / "redis.sock").exists()  # the private Redis shut down, not killed


def test_second_start_keeps_data_and_password_and_prints_no_new_one(run_standalone, var_dir):
    first = run_standalone("--no-workers")
    first.wait_ready()
    password = first.wait_for(LOGIN_LINE).group(1)
    assert "created superuser admin, organization demo" in first.output
    assert first.stop(signal.SIGTERM) == 0, first.output

    second = run_standalone("--no-workers")
    second.wait_ready()
    commands = " ".join(cmdline(pid) for pid, _ in process_tree(second.process.pid))
    assert "uvicorn" in commands and "celery" not in commands
    assert password not in second.output
    assert "created" not in second.output
    assert "login:      admin (password printed on the first start" in second.output
    assert is_admin_index(admin_login(second.base_url, password), second.base_url)
    assert second.stop(signal.SIGINT) == 0, second.output

    assert db_rows(var_dir, "SELECT count(*) FROM accounts_organization") == [(1,)]
    assert db_rows(var_dir, "SELECT username, is_superuser, is_staff FROM auth_user WHERE is_superuser") == [
        ("admin", 1, 1)
    ]
    assert db_rows(
        var_dir,
        "SELECT o.slug, m.role FROM accounts_membership m JOIN accounts_organization o ON o.id = m.organization_id",
    ) == [("demo", "owner")]
    assert db_rows(var_dir, "SELECT hostname, connection, primary_ip FROM inventory_host") == [
        ("localhost", "local", "127.0.0.1")
    ]


def test_a_child_that_dies_is_reported_and_everything_stops(run_standalone):
    standalone = run_standalone()
    standalone.wait_ready()
    worker = standalone.child_pid("engine@")
    children = process_tree(standalone.process.pid)

    os.kill(worker, signal.SIGKILL)

    assert standalone.wait(timeout=30) != 0
    assert "opsflow: worker was killed by signal SIGKILL (status -9); stopping" in standalone.output
    assert "CommandError: worker was killed by signal SIGKILL" in standalone.output
    assert not still_running(children)


RUN_A_WORKFLOW = """
from django.contrib.auth import get_user_model
from apps.accounts.models import Organization
from apps.engine.services import instance_start
from apps.inventory.models import Host
from apps.workflows.services import definition_create, definition_publish

org = Organization.objects.get(slug="demo")
admin = get_user_model().objects.get(username="admin")
steps = [
    {"id": "probe", "type": "command", "config": {"command": "echo checking; echo '{\\"free\\": 42}'"},
     "on_success": "judge"},
    {"id": "judge", "type": "conditional",
     "config": {"branches": [{"when": "steps.probe.output.free > 40", "next": "report"}], "default": "tight"}},
    {"id": "report", "type": "command", "config": {"command": "echo free={{ steps.probe.output.free }}"},
     "on_success": "done"},
    {"id": "tight", "type": "set", "config": {"variables": {"verdict": "tight"}}},
    {"id": "done", "type": "set", "config": {"variables": {"verdict": "roomy"}}},
]
definition = definition_create(organization=org, actor=admin, data={"name": "embedded-smoke", "steps": steps})
definition = definition_publish(definition_id=definition.pk, organization=org, actor=admin)
host = Host.objects.get(organization=org, hostname="localhost")
print("INSTANCE", instance_start(definition=definition, actor=admin, hosts=[host.pk]).pk)
"""


@pytest.mark.browser
def test_a_workflow_runs_on_localhost_in_the_embedded_mode_and_its_page_shows_the_log(
    run_standalone, var_dir, browser
):
    """What a newcomer does after `make run`: SQLite, the private Redis, the real workers;
    then the finished run's page in a real browser shows every stored line."""
    standalone = run_standalone()
    standalone.wait_ready()
    password = standalone.wait_for(LOGIN_LINE).group(1)
    assert celery_pong(var_dir, deadline=time.monotonic() + 30), standalone.output
    started = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", RUN_A_WORKFLOW], cwd=BASE_DIR,
        env={**standalone_env(var_dir), "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True, text=True, timeout=60,
    )
    assert started.returncode == 0, started.stderr
    instance_id = int(started.stdout.split("INSTANCE")[-1])

    deadline = time.monotonic() + 60
    status = None
    while time.monotonic() < deadline:
        [(status,)] = db_rows(var_dir, f"SELECT status FROM engine_workflowinstance WHERE id = {instance_id}")
        if status in ("succeeded", "failed", "timeout", "canceled"):
            break
        time.sleep(0.2)

    assert status == "succeeded", standalone.output
    steps = db_rows(var_dir, f"SELECT step_id, status FROM engine_stepexecution WHERE instance_id = {instance_id}"
                             " ORDER BY id")
    assert steps == [("probe", "succeeded"), ("judge", "succeeded"), ("report", "succeeded"), ("done", "succeeded")]
    lines = [line for (line,) in db_rows(var_dir, f"SELECT line FROM jobs_logline WHERE instance_id = {instance_id}"
                                                   " ORDER BY seq")]
    assert {"checking", "free=42"} <= set(lines)

    with offline_page(browser, standalone.base_url.rstrip("/")) as page:
        page.goto("/login/")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_text("Signed in as admin")).to_be_visible()
        page.goto(f"/instances/{instance_id}/")
        expect(page.locator("#live-log-state")).to_have_text("Run succeeded: the log is complete")
        rows = page.locator("#live-log-view .live-log-row")
        expect(rows).to_have_count(len(lines))
        for line in lines:
            expect(page.locator("#live-log-view")).to_contain_text(line)
    assert standalone.stop(signal.SIGINT, timeout=30) == 0, standalone.output
