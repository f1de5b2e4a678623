"""The SSH executor against a real OpenSSH server on loopback (no mocks of SSH)."""

from __future__ import annotations

import logging
import subprocess
import threading
import time

import pytest

from apps.audit.models import AuditEvent
from apps.inventory.models import HostKey
from apps.inventory.services import host_key_record, host_key_trust
from apps.inventory.ssh_keys import scan_host_key
from apps.jobs.executors.base import JobSpec
from apps.jobs.executors.ssh import SSHExecutor
from tests.ssh.sshd import TEST_PASSWORD

pytestmark = pytest.mark.django_db


def execute(host, spec: JobSpec, *, stop: str = "", stop_after: float = 0.0, grace: float = 1.0):
    lines = []
    started = time.monotonic()

    def should_stop() -> str:
        return stop if stop and time.monotonic() - started >= stop_after else ""

    result = SSHExecutor({"id": host.pk}, kill_grace_seconds=grace).run(
        spec, on_lines=lines.extend, should_stop=should_stop, heartbeat=lambda: None)
    return result, lines


def trust(host, owner, server) -> HostKey:
    offered = scan_host_key(host.primary_ip, server.port)
    key = host_key_record(host_id=host.pk, offered=offered)
    return host_key_trust(organization=host.organization, host_id=host.pk, key_id=key.pk, actor=owner)


def text(lines, stream=None):
    return [line.line for line in lines if stream is None or line.stream == stream]


def test_first_contact_is_refused_with_the_fingerprint_then_trust_then_success(sshd, ssh_host, owner):
    host = ssh_host()
    spec = JobSpec(kind="command", command="echo hello; echo oops >&2", timeout_seconds=30)

    result, lines = execute(host, spec)

    assert (result.status, result.error_class) == ("failed", "HostKeyUnknown")
    assert sshd.fingerprint in result.error_message
    key = HostKey.objects.get(host=host)
    assert (key.state, key.fingerprint_sha256) == ("pending", sshd.fingerprint)

    host_key_trust(organization=host.organization, host_id=host.pk, key_id=key.pk, actor=owner)
    result, lines = execute(host, spec)

    assert (result.status, result.exit_code, result.error_class) == ("succeeded", 0, "")
    assert text(lines, "stdout") == ["hello"] and text(lines, "stderr") == ["oops"]
    assert not any("opsflow-pgid" in line for line in text(lines))


def test_accept_new_trusts_the_first_key_and_audits_it(sshd, ssh_host):
    host = ssh_host(host_key_policy="accept_new")

    result, _lines = execute(host, JobSpec(kind="command", command="echo in", timeout_seconds=30))

    assert result.status == "succeeded", result.error_message
    key = HostKey.objects.get(host=host)
    assert key.state == "trusted" and key.trusted_by is None and key.trusted_at is not None
    assert AuditEvent.objects.filter(action="host_key.accept_new", target_id=str(key.pk)).exists()


def test_a_changed_key_is_refused_as_a_mismatch(sshd, make_sshd, ssh_host, owner):
    host = ssh_host(host_key_policy="accept_new")  # accept_new too: only a *first* key is accepted
    trust(host, owner, sshd)
    impostor = make_sshd("127.0.0.2")  # same address, another port and host key
    host.port = impostor.port
    host.save(update_fields=["port"])

    result, _lines = execute(host, JobSpec(kind="command", command="touch /tmp/never", timeout_seconds=30))

    assert (result.status, result.error_class) == ("failed", "HostKeyMismatch")
    assert impostor.fingerprint in result.error_message
    assert HostKey.objects.get(host=host, fingerprint_sha256=impostor.fingerprint).state == "pending"


def test_wrong_key_or_password_is_auth_failed(sshd, ssh_host, owner, org, test_user, tmp_path):
    from apps.credentials.services import credential_create
    from tests.ssh.sshd import keygen

    stranger = credential_create(organization=org, actor=None, name="stranger", kind="ssh_key",
                                 username=sshd.user, secret=keygen(tmp_path / "stranger").read_text())
    wrong_password = credential_create(organization=org, actor=None, name="wrong", kind="password",
                                       username=test_user, secret="not-the-password")
    for hostname, credential in (("key-host", stranger), ("password-host", wrong_password)):
        host = ssh_host(hostname=hostname, credential=credential)
        trust(host, owner, sshd)
        result, _ = execute(host, JobSpec(kind="command", command="true", timeout_seconds=30))
        assert (result.status, result.error_class) == ("failed", "AuthFailed"), hostname
        assert "not-the-password" not in result.error_message


def test_password_login_and_sudo_with_the_password_on_stdin(sshd, ssh_host, owner, password_credential, test_user):
    plain = ssh_host(hostname="plain", credential=password_credential)
    root = ssh_host(hostname="root", credential=password_credential, become=True)
    for host in (plain, root):
        trust(host, owner, sshd)

    result, lines = execute(plain, JobSpec(kind="command", command="id -un", timeout_seconds=30))
    assert result.status == "succeeded", (result.error_message, text(lines))
    assert text(lines, "stdout") == [test_user]

    script = JobSpec(kind="script", interpreter="bash", command='id -un\necho "var=$OPSFLOW_VAR_X"\n',
                     env={"OPSFLOW_VAR_X": "two words"}, timeout_seconds=30)
    result, lines = execute(root, script)
    assert result.status == "succeeded", (result.error_message, text(lines))
    assert text(lines, "stdout") == ["root", "var=two words"]


def test_sshd_gone_is_host_unreachable(make_sshd, ssh_host, owner):
    server = make_sshd("127.0.0.6")
    host = ssh_host(address="127.0.0.6", server=server)
    trust(host, owner, server)
    server.stop()

    result, _ = execute(host, JobSpec(kind="command", command="true", timeout_seconds=30))

    assert (result.status, result.error_class) == ("failed", "HostUnreachable")


def test_sshd_dying_mid_job_is_host_unreachable(make_sshd, ssh_host, owner):
    server = make_sshd("127.0.0.7")
    host = ssh_host(address="127.0.0.7", server=server)
    trust(host, owner, server)
    threading.Timer(1.5, server.stop).start()

    result, lines = execute(host, JobSpec(kind="command", command="echo up; sleep 30", timeout_seconds=60))

    assert (result.status, result.error_class) == ("failed", "HostUnreachable"), result.error_message
    assert "up" in text(lines, "stdout")


def test_exit_codes_and_streams_like_local_jobs(sshd, ssh_host, owner):
    host = ssh_host()
    trust(host, owner, sshd)

    result, lines = execute(host, JobSpec(kind="command", command="for i in $(seq 1 500); do echo line $i; done; "
                                                                   "echo '{\"ok\": 1}'; exit 3", timeout_seconds=30))

    assert (result.status, result.exit_code, result.error_class) == ("failed", 3, "NonZeroExit")
    assert text(lines, "stdout")[:2] == ["line 1", "line 2"] and len(text(lines, "stdout")) == 501
    assert result.output == {"ok": 1}


def remote_group_of(marker: str) -> list[str]:
    return subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()


def test_kill_tier_leaves_no_remote_process(sshd, ssh_host, owner):
    host = ssh_host()
    trust(host, owner, sshd)
    # A job whose processes ignore SIGTERM: only the SIGKILL after the grace stops them.
    command = "trap '' TERM; sh -c \"trap '' TERM; sleep 300\" & sleep 301; wait"

    result, lines = execute(host, JobSpec(kind="command", command=command, timeout_seconds=120),
                            stop="kill", stop_after=1.5, grace=1.0)

    assert result.status == "canceled", (result, text(lines))
    assert any("sent SIGKILL" in line for line in text(lines, "system")), text(lines)
    assert any("Verified: no process of the job is still running." in line for line in text(lines, "system"))
    assert result.verified_stopped
    assert remote_group_of("sleep 30[01]") == []


def test_force_tier_sends_term_to_the_whole_remote_group(sshd, ssh_host, owner):
    host = ssh_host()
    trust(host, owner, sshd)

    result, lines = execute(host, JobSpec(kind="command", command="sleep 302 & sleep 303; wait", timeout_seconds=120),
                            stop="term", stop_after=1.0)

    assert result.status == "canceled", (result, text(lines))
    assert remote_group_of("sleep 30[23]") == []


def test_timeout_stops_the_remote_group(sshd, ssh_host, owner):
    host = ssh_host()
    trust(host, owner, sshd)

    result, _lines = execute(host, JobSpec(kind="command", command="sleep 304 & sleep 305", timeout_seconds=2))

    assert (result.status, result.error_class) == ("timeout", "Timeout")
    assert remote_group_of("sleep 30[45]") == []


def test_the_password_never_reaches_lines_or_errors(sshd, ssh_host, owner, password_credential):
    host = ssh_host(hostname="leaky", credential=password_credential, become=True)
    trust(host, owner, sshd)

    # The job prints the password (from its environment: never in an argv, see the kill test).
    result, lines = execute(host, JobSpec(kind="command", command='echo "pw=$OPSFLOW_VAR_PW"',
                                          env={"OPSFLOW_VAR_PW": TEST_PASSWORD}, timeout_seconds=30))

    assert result.status == "succeeded", result.error_message
    assert TEST_PASSWORD not in result.error_message
    assert all(TEST_PASSWORD not in line for line in text(lines))
    assert text(lines, "stdout") == ["pw=***"]


def accepted_logins(server) -> int:
    return server.log.read_text().count("Accepted publickey")


def test_jobs_reuse_one_connection_per_host_and_user(make_sshd, ssh_host, owner):
    server = make_sshd("127.0.0.8")
    host = ssh_host(address="127.0.0.8", server=server)
    trust(host, owner, server)

    results = [execute(host, JobSpec(kind="command", command=f"echo {i}", timeout_seconds=30))[0] for i in range(3)]

    assert [r.status for r in results] == ["succeeded"] * 3
    assert accepted_logins(server) == 1


def test_a_revoked_key_stops_the_next_job_even_on_a_pooled_connection(sshd, ssh_host, owner):
    from apps.inventory.services import host_key_revoke

    host = ssh_host()
    key = trust(host, owner, sshd)
    assert execute(host, JobSpec(kind="command", command="true", timeout_seconds=30))[0].status == "succeeded"
    host_key_revoke(organization=host.organization, host_id=host.pk, key_id=key.pk, actor=owner)

    result, _ = execute(host, JobSpec(kind="command", command="true", timeout_seconds=30))

    assert (result.status, result.error_class) == ("failed", "HostKeyMismatch")
    assert "revoked" in result.error_message and sshd.fingerprint in result.error_message


def test_the_wrapper_bounds_the_remote_job_when_the_controller_is_gone(sshd):
    from apps.jobs.executors.ssh_remote import job_stdin, remote_command

    command = remote_command(kind="command", command="sleep 306", interpreter="", timeout=5, become=False)
    stdin = job_stdin(kind="command", command="sleep 306", env={}, become=False, password=None)
    controller = subprocess.Popen(
        ["ssh", "-i", str(sshd.client_key), "-p", str(sshd.port), "-o", "BatchMode=yes",
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", f"{sshd.user}@127.0.0.2", command],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    controller.stdin.write(stdin)
    controller.stdin.close()
    started = time.monotonic()
    while not remote_group_of("^sleep 306"):
        assert time.monotonic() - started < 10, "the remote job never started"
        time.sleep(0.1)
    controller.kill()  # the jobs worker is gone: nobody will stop the job
    controller.wait()
    time.sleep(0.5)
    assert remote_group_of("^sleep 306"), "the job outlives its controller until its timeout"

    while remote_group_of("^sleep 306"):
        assert time.monotonic() - started < 15, "the wrapper's timeout did not stop the remote job"
        time.sleep(0.2)


def test_kill_tier_reaches_a_sudo_job_and_the_password_is_never_in_an_argv(sshd, ssh_host, owner,
                                                                          password_credential):
    host = ssh_host(hostname="sudo-kill", credential=password_credential, become=True)
    trust(host, owner, sshd)
    seen_in_argv: list[str] = []
    done = threading.Event()

    def watch_process_table() -> None:  # the "remote" host is this machine
        while not done.is_set():
            table = subprocess.run(["ps", "-eww", "-o", "args"], capture_output=True, text=True).stdout
            seen_in_argv.extend(line for line in table.splitlines() if TEST_PASSWORD in line)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch_process_table)
    watcher.start()
    try:
        result, lines = execute(host, JobSpec(kind="command", command="trap '' TERM; id -un; sleep 308",
                                              timeout_seconds=120), stop="kill", stop_after=1.5, grace=1.0)
    finally:
        done.set()
        watcher.join()

    assert result.status == "canceled", (result, text(lines))
    assert text(lines, "stdout") == ["root"]
    assert result.verified_stopped
    assert remote_group_of("^sleep 308") == []
    assert seen_in_argv == []


@pytest.mark.django_db(transaction=True)  # the jobs run in threads of their own
def test_concurrent_jobs_share_one_connection_with_at_most_8_sessions(make_sshd, ssh_host, owner):
    from django.db import connection as db_connection

    server = make_sshd("127.0.0.11")
    host = ssh_host(address="127.0.0.11", server=server)
    trust(host, owner, server)
    results, most = [], [0]
    done = threading.Event()

    def job() -> None:
        try:
            results.append(execute(host, JobSpec(kind="command", command="sleep 1.3", timeout_seconds=60))[0])
        finally:
            db_connection.close()

    def watch() -> None:
        while not done.is_set():
            most[0] = max(most[0], len(remote_group_of("^sleep 1.3$")))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = [threading.Thread(target=job) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    watcher.join()

    assert [r.status for r in results] == ["succeeded"] * 10
    assert accepted_logins(server) == 1
    assert 2 <= most[0] <= 8


def test_sudo_refused_is_auth_failed_and_nothing_runs(sshd, ssh_host, owner, key_credential, test_user, tmp_path):
    # Logged in with a key: there is no password to give sudo, and the test user's sudo asks for one.
    host = ssh_host(hostname="no-sudo", credential=key_credential, username=test_user, become=True)
    trust(host, owner, sshd)
    marker = tmp_path / "ran"

    result, lines = execute(host, JobSpec(kind="command", command=f"touch {marker}", timeout_seconds=30))

    assert (result.status, result.error_class) == ("failed", "AuthFailed"), (result, text(lines))
    assert "sudo" in result.error_message
    assert not marker.exists()


def test_a_job_writes_no_asyncssh_chatter_to_the_worker_log(sshd, ssh_host, owner, caplog):
    host = ssh_host(hostname="quiet")
    trust(host, owner, sshd)

    with caplog.at_level(logging.INFO):
        result, _ = execute(host, JobSpec(kind="command", command="true", timeout_seconds=30))

    assert result.status == "succeeded"
    chatter = [r.getMessage() for r in caplog.records if r.name.startswith("asyncssh") and r.levelno < logging.WARNING]
    assert chatter == []


def test_the_worker_keeps_at_most_its_connection_cap_closing_idle_ones(make_sshd, ssh_host, owner, monkeypatch):
    from apps.jobs.executors.ssh_pool import runtime

    pool = runtime().pool
    runtime().call(_close_all(pool))
    monkeypatch.setattr(pool, "max_connections", 1)
    servers = [make_sshd(f"127.0.0.{n}") for n in (12, 13)]
    hosts = [ssh_host(hostname=f"cap-{n}", address=s.addresses[0], server=s) for n, s in enumerate(servers)]
    for host, server in zip(hosts, servers, strict=True):
        trust(host, owner, server)

    for host in (*hosts, hosts[0]):
        assert execute(host, JobSpec(kind="command", command="true", timeout_seconds=30))[0].status == "succeeded"
        assert len(pool.connections) == 1

    # the first host's idle connection was closed for the second's, then opened again
    assert [accepted_logins(server) for server in servers] == [2, 1]


async def _close_all(pool) -> None:
    for key in list(pool.connections):
        pool._drop(key)
