"""The SSH executor (DESIGN §10): a job on a remote host over a reused asyncssh connection.

- The host's login (its `username`, else the credential's) and secret come from the vault,
  decrypted here, in the jobs worker, right before use; the secret is masked out of every
  line and never put in an argv, an error message or a log line.
- Host keys: only the host's `trusted` keys are accepted. An unknown key fails the job with
  HostKeyUnknown (its SHA256 fingerprint in the message) and is recorded `pending`; with
  `accept_new` the first key seen is trusted (audited) instead. A key other than the trusted
  one fails with HostKeyMismatch (recorded pending too, for an operator to judge).
- Refused or timed-out connects and lost connections are HostUnreachable, refused logins
  AuthFailed.
- The remote process runs under the wrapper of ssh_remote.py; Supervision watches it as it
  does a local one (timeout, stop tiers, leftovers), signalling and checking its remote
  process group over a second channel.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from django.conf import settings

from apps.credentials.models import CredentialKind
from apps.credentials.services import credential_secret
from apps.inventory.models import DEFAULT_PORTS, Connection, Host, HostKeyPolicy, HostKeyState
from apps.inventory.selectors import host_keys_trusted
from apps.inventory.services import host_key_accept_new, host_key_record
from apps.inventory.ssh_keys import offered_key, ssh_address
from apps.jobs.executors.base import Heartbeat, JobResult, JobSpec, JobSpecError, OnLines, OnStart, ShouldStop
from apps.jobs.executors.local import job_result
from apps.jobs.executors.output import OutputCollector
from apps.jobs.executors.ssh_pool import ConnectFailure, Pooled, Target, runtime
from apps.jobs.executors.ssh_remote import RemoteGroup, job_stdin, remote_command, remote_timeout, start_process
from apps.jobs.executors.supervise import Supervision
from apps.jobs.models import JobStatus
from apps.jobs.redaction import Masker

logger = logging.getLogger(__name__)

ACQUIRE_TIMEOUT_SECONDS = 60
START_TIMEOUT_SECONDS = 20


class SSHExecutor:
    def __init__(self, host: dict[str, Any], *, kill_grace_seconds: float | None = None,
                 log_limit_bytes: int | None = None) -> None:
        self.host_id = host.get("id")
        self.grace = settings.OPSFLOW_KILL_GRACE_SECONDS if kill_grace_seconds is None else kill_grace_seconds
        self.log_limit = settings.OPSFLOW_JOB_LOG_LIMIT_BYTES if log_limit_bytes is None else log_limit_bytes

    def run(
        self, spec: JobSpec, *, on_lines: OnLines, should_stop: ShouldStop, heartbeat: Heartbeat,
        on_start: OnStart | None = None,
    ) -> JobResult:
        # on_start records a *local* process group (the reaper signals it on this machine):
        # a remote pgid must never be passed to it.
        try:
            host, target = self._target()
        except JobSpecError as exc:
            return JobResult.error(exc.error_class, exc.message)
        try:
            target, pooled = self._connect(host, target)
        except ConnectFailure as exc:
            return JobResult.error(exc.error_class, exc.message)
        rt = runtime()
        try:
            return self._run(spec, host, target, pooled, on_lines, should_stop, heartbeat)
        finally:
            rt.call(rt.pool.release(target, pooled), ACQUIRE_TIMEOUT_SECONDS)

    # --- connecting ------------------------------------------------------------------------
    def _target(self) -> tuple[Host, Target]:
        host = Host.objects.select_related("credential").filter(pk=self.host_id).first()
        if host is None:
            raise JobSpecError("ConfigError", "The job's host no longer exists.")
        if host.connection != Connection.SSH:
            raise JobSpecError("ConfigError", f"Host {host.hostname} is not reached over SSH any more.")
        credential = host.credential
        if credential is None or credential.kind not in (CredentialKind.SSH_KEY, CredentialKind.PASSWORD):
            raise JobSpecError("ConfigError", f"Host {host.hostname} needs an ssh_key or password credential.")
        username = host.username or credential.username
        if not username:
            raise JobSpecError("ConfigError", f"Host {host.hostname} has no SSH user (set the host's or the "
                                              "credential's username).")
        try:
            secret = credential_secret(credential)
        except Exception:  # the message of a decryption failure says nothing secret, but keep it short
            raise JobSpecError("ConfigError", f"The credential of host {host.hostname} cannot be decrypted.") from None
        is_key = credential.kind == CredentialKind.SSH_KEY
        target = Target(
            host_id=host.pk, hostname=host.hostname, address=ssh_address(host),
            port=host.port or DEFAULT_PORTS[Connection.SSH], username=username, credential_id=credential.pk,
            credential_version=credential.updated_at.isoformat(),
            password=None if is_key else secret, private_key=secret if is_key else None,
            trusted_keys=tuple(key.public_key for key in host_keys_trusted(host_id=host.pk)),
        )
        return host, target

    def _connect(self, host: Host, target: Target) -> tuple[Target, Pooled]:
        rt = runtime()
        try:
            return target, rt.call(rt.pool.acquire(target), ACQUIRE_TIMEOUT_SECONDS)
        except ConnectFailure as exc:
            if exc.offered is None:
                raise
            offered = offered_key(exc.offered)
            if exc.error_class == "HostKeyUnknown" and host.host_key_policy == HostKeyPolicy.ACCEPT_NEW:
                accepted = host_key_accept_new(host_id=host.pk, offered=offered)
                if accepted is not None:
                    target = replace(target, trusted_keys=(accepted.public_key,))
                    return target, rt.call(rt.pool.acquire(target), ACQUIRE_TIMEOUT_SECONDS)
            key = host_key_record(host_id=host.pk, offered=offered)
            if key.state == HostKeyState.REVOKED:
                raise ConnectFailure("HostKeyMismatch", f"{host.hostname} offered host key {key.fingerprint_sha256}, "
                                                        "which was revoked: refusing to connect.") from None
            raise

    # --- running ---------------------------------------------------------------------------
    def _run(self, spec: JobSpec, host: Host, target: Target, pooled: Pooled, on_lines: OnLines,
             should_stop: ShouldStop, heartbeat: Heartbeat) -> JobResult:
        rt = runtime()
        if spec.kind not in ("command", "script"):
            return JobResult.error("ConfigError", f"Unknown job kind {spec.kind!r}.")
        command = remote_command(kind=spec.kind, command=spec.command, interpreter=spec.interpreter,
                                 timeout=remote_timeout(spec.timeout_seconds), become=host.become)
        stdin = job_stdin(kind=spec.kind, command=spec.command, env=spec.env, become=host.become,
                          password=target.password)
        secrets = [*spec.secrets, *([target.password] if target.password else [])]
        collector = OutputCollector(Masker(secrets), limit_bytes=self.log_limit)
        try:
            process = rt.call(start_process(pooled, command, stdin), START_TIMEOUT_SECONDS)
        except Exception as exc:
            return JobResult.error("HostUnreachable", f"{target.hostname}: could not start the job over SSH: "
                                                      f"{type(exc).__name__}")
        process.started.wait(START_TIMEOUT_SECONDS)
        group = RemoteGroup(pooled, process.pgid, become=host.become, password=target.password)
        supervision = Supervision(
            process, collector, spec=spec, grace=self.grace, on_lines=on_lines, should_stop=should_stop,
            heartbeat=heartbeat, group=group, pgid=process.pgid or 0,
        )
        try:
            supervision.run()
        finally:
            if process.pgid is not None and not group.unknown:
                supervision.ensure_gone()
        return self._result(spec, host, target, process, supervision, collector, group)

    def _result(self, spec: JobSpec, host: Host, target: Target, process: Any, supervision: Supervision,
                collector: OutputCollector, group: RemoteGroup) -> JobResult:
        if process.code is None:  # no exit status: the channel or the whole connection was lost
            result = JobResult.error("HostUnreachable", f"{target.hostname}: the SSH connection was lost while "
                                                        "the job ran (keepalive or link failure).")
            result.log_bytes, result.log_truncated = collector.bytes_total, collector.truncated
            return result
        if process.pgid is None and host.become and process.code not in (0, None):
            result = JobResult.error("AuthFailed", f"{target.hostname}: sudo refused to run the job as root "
                                                   "(wrong password, or the user may not use sudo).")
            result.log_bytes, result.log_truncated = collector.bytes_total, collector.truncated
            return result
        result = job_result(spec, process.poll(), supervision, collector)
        if result.status == JobStatus.TIMEOUT or supervision.stop_mode:
            result.verified_stopped = not group.unknown and not group.alive()
        else:
            result.verified_stopped = not group.unknown
        return result
