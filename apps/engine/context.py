"""The data templates and conditions see (DESIGN §4): plain dicts only, never models.

`vars.*`, `hosts.*` (the job's host), `steps.<id>.status|exit_code|output|hosts.<name>.*`,
`secrets.<alias>.*` (only where a job or a delivery needs them), `instance.*`, `trigger.*`.
Sensitive variables are decrypted only while a context is built for rendering; their
values are collected so that whatever prints them can be masked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from apps.core.crypto import decrypt, encrypt
from apps.engine.models import PamSession, StepExecution, WorkflowInstance, may_have
from apps.jobs.redaction import MASK


@dataclass
class Context:
    data: dict[str, Any]
    secret_values: list[str] = field(default_factory=list)

    def with_host(self, host: dict[str, Any] | None) -> dict[str, Any]:
        return {**self.data, "hosts": host_context(host)} if host is not None else self.data


def sensitive_names(snapshot: dict[str, Any]) -> set[str]:
    """The variables a definition declares `sensitive` (their values live encrypted)."""
    return {var["name"] for var in snapshot.get("variables", []) if isinstance(var, dict) and var.get("sensitive")}


def redacted_variables(instance: WorkflowInstance) -> dict[str, Any]:
    """The instance's variables as anyone may see them: sensitive ones as `***`."""
    return {**instance.variables, **dict.fromkeys(sensitive_names(instance.snapshot), MASK)}


def encrypt_sensitive(values: dict[str, Any]) -> str:
    return encrypt(json.dumps(values)) if values else ""


def decrypt_sensitive(instance: WorkflowInstance) -> dict[str, Any]:
    return json.loads(decrypt(instance.sensitive_variables)) if instance.sensitive_variables else {}


def host_context(host: dict[str, Any]) -> dict[str, Any]:
    return {
        "hostname": host.get("hostname", ""),
        "primary_ip": host.get("primary_ip") or "",
        "os": host.get("os", ""),
        "connection": host.get("connection", ""),
        "port": host.get("port"),
        "vars": host.get("vars") or {},
        "labels": host.get("labels") or [],
    }


def steps_context(instance: WorkflowInstance, steps: list[StepExecution] | None = None) -> dict[str, Any]:
    from apps.jobs.models import Job

    steps = steps if steps is not None else list(instance.steps.all())
    per_host: dict[str, dict[str, Any]] = {}
    # A re-run's reused step reads its jobs from the run that executed it; a `no_reset`
    # step also from the run before (its succeeded hosts did not run again).
    fanout_ids = [
        pk
        for step in steps
        if step.step_type in ("command", "script")
        for pk in (step.reused_from_id or step.pk, step.result.get("previous_execution"))
        if pk
    ]
    if fanout_ids:
        rows = (
            Job.objects.filter(step_execution__in=fanout_ids)
            .order_by("id")
            .values_list("step_id", "hostname", "status", "exit_code", "output", "error_class")
        )
        for step_id, hostname, status, exit_code, output, error_class in rows:
            per_host.setdefault(step_id, {})[hostname] = {
                "status": status,
                "exit_code": exit_code,
                "output": output,
                "error_class": error_class,
            }
    return {
        step.step_id: {
            "status": step.status,
            "exit_code": step.result.get("exit_code"),
            "output": step.output,
            "error_class": step.error_class,
            "error_message": step.error_message,
            "hosts": per_host.get(step.step_id, {}),
        }
        for step in steps
    }


def secrets_context(instance: WorkflowInstance) -> tuple[dict[str, Any], list[str]]:
    """Decrypt the open PAM sessions' credentials, in memory only."""
    from apps.credentials.services import credential_secret

    data: dict[str, Any] = {}
    values: list[str] = []
    sessions = PamSession.objects.filter(instance=instance, closed_at__isnull=True).select_related("credential")
    for session in sessions:
        secret = credential_secret(session.credential)
        credential = session.credential
        data[session.alias] = {
            "username": credential.username,
            "password": secret,
            "secret": secret,
            "kind": credential.kind,
            "name": credential.name,
        }
        values.append(secret)
    return data, values


def build_context(
    instance: WorkflowInstance,
    *,
    steps: list[StepExecution] | None = None,
    with_secrets: bool = False,
    with_steps: bool = True,
) -> Context:
    """`with_steps=False` leaves `steps` empty (two queries fewer), for a template known
    not to read it."""
    sensitive = decrypt_sensitive(instance)
    data: dict[str, Any] = {
        "vars": {**instance.variables, **sensitive},
        "steps": steps_context(instance, steps) if with_steps else {},
        "instance": {
            "id": instance.pk,
            "workflow": instance.workflow_name,
            "version": instance.version_number,
            "started_at": instance.started_at.isoformat() if instance.started_at else None,
            "parent_id": instance.parent_id,
            "batch_index": instance.batch_index,
        },
        "trigger": {"type": instance.trigger, **(instance.trigger_data or {})},
        "hosts": {},
        "secrets": {},
    }
    secret_values = [str(value) for value in sensitive.values() if value not in (None, "")]
    if with_secrets and may_have(instance, "pam_checkout"):
        data["secrets"], values = secrets_context(instance)
        secret_values += values
    return Context(data=data, secret_values=secret_values)
