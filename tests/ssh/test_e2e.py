"""Workflows on SSH hosts, end to end with the real Celery worker (tests/celery_worker.py)
and a real OpenSSH server on loopback."""

from __future__ import annotations

import json
import time

import pytest
from django.urls import reverse

from apps.engine.models import WorkflowInstance
from apps.inventory.models import HostKey
from apps.inventory.services import host_key_record, host_key_trust
from apps.inventory.ssh_keys import scan_host_key
from apps.jobs.models import Job, LogLine
from tests.engine.conftest import step_of, wait_for
from tests.ssh.sshd import TEST_PASSWORD

pytestmark = [pytest.mark.worker, pytest.mark.xdist_group("worker")]
DONE = {"succeeded", "failed", "rejected", "timeout", "canceled", "terminated"}


@pytest.fixture
def examples(org, owner):
    from apps.credentials.services import credential_create
    from apps.workflows.services import examples_load

    credential_create(organization=org, actor=owner, name="db-admin", kind="password", username="dba",
                      secret="Rotate-Me-4f7a2c")
    return {definition.name: definition for definition in examples_load(organization=org, actor=owner)}


def trust(host, owner, server) -> None:
    key = host_key_record(host_id=host.pk, offered=scan_host_key(host.primary_ip, server.port))
    host_key_trust(organization=host.organization, host_id=host.pk, key_id=key.pk, actor=owner)


def test_health_check_example_runs_unchanged_on_ssh_hosts(worker, owner, sshd, ssh_host, password_credential,
                                                          run, examples):
    key_host = ssh_host("web-1", "127.0.0.2")
    sudo_host = ssh_host("db-1", "127.0.0.3", credential=password_credential, become=True)
    for host in (key_host, sudo_host):
        trust(host, owner, sshd)

    instance = wait_for(run(examples["health-check"], hosts=[key_host.pk, sudo_host.pk]), status=DONE, timeout=90)

    assert instance.status == "succeeded", instance.error_message
    jobs = Job.objects.filter(instance=instance)
    assert {(job.hostname, job.status) for job in jobs} == {
        (host, "succeeded") for host in ("web-1", "db-1")}
    disk = step_of(instance, "disk")
    assert {job.hostname for job in jobs.filter(step_id="disk")} == {"web-1", "db-1"}
    assert disk.status == "succeeded"
    _assert_no_password(instance)


def test_patch_canary_and_rotate_password_examples_run_unchanged_on_ssh_hosts(worker, owner, sshd, ssh_host, run,
                                                                              examples, hook_server):
    fleet = [ssh_host(f"web-{i}", f"127.0.0.{i + 1}") for i in (1, 2)]
    for host in fleet:
        trust(host, owner, sshd)

    patched = wait_for(run(examples["patch-canary"], hosts=[h.pk for h in fleet]), status=DONE, timeout=90)

    assert patched.status == "succeeded", patched.error_message
    assert step_of(patched, "apply").result["canary"]["state"] == "passed"
    assert LogLine.objects.filter(instance=patched, line="upgrading openssl on web-2 (127.0.0.3)").exists()

    server, hook = hook_server
    url = f"http://127.0.0.1:{server.server_port}/slack"
    rotated = wait_for(run(examples["rotate-service-password"], hosts=[fleet[0].pk],
                           variables={"slack_webhook_url": url}), status=DONE, timeout=90)

    assert rotated.status == "succeeded", rotated.error_message
    lines = list(LogLine.objects.filter(instance=rotated).values_list("line", flat=True))
    assert "rotating billing as dba" in lines and "using password ***" in lines
    assert "Rotate-Me-4f7a2c" not in " ".join(lines)
    assert json.loads(hook.received[0][1]) == {"text": "billing password rotated"}


def test_lines_stream_into_log_rows_and_a_refused_key_is_retried_once_trusted(worker, api, org, owner, sshd,
                                                                             ssh_host, make_workflow, run, client):
    browser = client
    host = ssh_host("app-1", "127.0.0.2")
    definition = make_workflow([{"id": "count", "type": "command",
                                 "config": {"command": "for i in $(seq 1 2000); do echo line $i; done; "
                                                       "echo warn >&2"}}])

    first = wait_for(run(definition, hosts=[host.pk]), status=DONE, timeout=60)

    assert first.status == "failed"
    job = Job.objects.get(instance=first)
    assert job.error_class == "HostKeyUnknown" and sshd.fingerprint in job.error_message
    key = HostKey.objects.get(host=host)
    assert key.state == "pending"
    browser.force_login(owner)
    page = browser.get(reverse("engine:instance-detail", args=[first.pk])).content.decode()
    assert f'href="{reverse("inventory:host-detail", args=[host.pk])}#host-keys"' in page  # the failure links there

    client = api(owner, org)
    assert client.post(f"/api/hosts/{host.pk}/host-keys/{key.pk}/trust/").status_code == 200
    assert client.post(f"/api/instances/{first.pk}/retry/", {}, format="json").status_code in (200, 202)

    again = wait_for(WorkflowInstance.objects.get(pk=first.pk), status={"succeeded", "failed"}, timeout=90)
    assert again.status == "succeeded", again.error_message
    stdout = list(LogLine.objects.filter(instance=again, stream="stdout").order_by("seq")
                  .values_list("line", flat=True))
    assert stdout == [f"line {i}" for i in range(1, 2001)]
    assert list(LogLine.objects.filter(instance=again, stream="stderr").values_list("line", flat=True)) == ["warn"]


def _assert_no_password(instance: WorkflowInstance) -> None:
    lines = LogLine.objects.filter(instance=instance)
    assert lines.exists()
    assert not lines.filter(line__contains=TEST_PASSWORD).exists()
    for job in Job.objects.filter(instance=instance):
        assert TEST_PASSWORD not in f"{job.error_message} {job.output} {job.host}"


def test_a_held_host_key_failure_is_retried_by_hand_once_trusted_but_auth_failed_is_not(
        worker, api, org, owner, sshd, ssh_host, make_workflow, run, tmp_path):
    from apps.credentials.services import credential_create
    from tests.ssh.sshd import keygen

    host = ssh_host("new-1", "127.0.0.2")
    stranger = credential_create(organization=org, actor=None, name="stranger", kind="ssh_key", username=sshd.user,
                                 secret=keygen(tmp_path / "stranger").read_text())
    locked_out = ssh_host("locked-1", "127.0.0.3", credential=stranger)
    trust(locked_out, owner, sshd)
    definition = make_workflow([{"id": "probe", "type": "command", "config": {"command": "echo ok"},
                                 "hold_on_failure": True}])
    client = api(owner, org)

    held = wait_for(run(definition, hosts=[host.pk]), status="paused", timeout=60)
    assert Job.objects.get(instance=held).error_class == "HostKeyUnknown"
    key = HostKey.objects.get(host=host)
    client.post(f"/api/hosts/{host.pk}/host-keys/{key.pk}/trust/")
    assert client.post(f"/api/instances/{held.pk}/steps/probe/retry/", {}, format="json").status_code < 300
    assert wait_for(held, status=DONE, timeout=60).status == "succeeded"

    refused = wait_for(run(definition, hosts=[locked_out.pk]), status="paused", timeout=60)
    assert Job.objects.get(instance=refused).error_class == "AuthFailed"
    response = client.post(f"/api/instances/{refused.pk}/steps/probe/retry/", {}, format="json")
    assert response.status_code == 409, response.content


def test_sshd_dying_mid_job_is_host_unreachable_then_retried_automatically(worker, owner, make_sshd, ssh_host,
                                                                           make_workflow, run, tmp_path):
    server = make_sshd("127.0.0.10")
    host = ssh_host("flaky-1", "127.0.0.10", server=server)
    trust(host, owner, server)
    marker = tmp_path / "first-attempt-ran"  # the "remote" host is this machine
    definition = make_workflow([{"id": "work", "type": "command", "retry_count": 1, "retry_delay_seconds": 1,
                                 "config": {"command": f"echo attempt; [ -e {marker} ] || "
                                                       f"{{ touch {marker}; sleep 30; }}"}}])

    instance = run(definition, hosts=[host.pk])
    wait_for(instance, step="work", step_status="running", timeout=30)
    deadline = time.monotonic() + 20
    while not LogLine.objects.filter(instance=instance, line="attempt").exists():
        assert time.monotonic() < deadline, "the first attempt never started"
        time.sleep(0.1)
    server.stop()  # the host dies mid-job...
    server.start()  # ...and comes back, same address and host key

    instance = wait_for(instance, status=DONE, timeout=90)

    assert instance.status == "succeeded", instance.error_message
    jobs = list(Job.objects.filter(instance=instance).order_by("attempt").values_list("attempt", "status",
                                                                                        "error_class"))
    assert jobs == [(1, "failed", "HostUnreachable"), (2, "succeeded", "")]
