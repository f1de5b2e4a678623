"""Starting instances (issue #4 item 1)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.audit.services import audit_record
from apps.core import wake
from apps.core.errors import Conflict, InvalidInput
from apps.engine.context import encrypt_sensitive, sensitive_names
from apps.engine.lifecycle import timer_add
from apps.engine.models import StepExecution, TimerKind, Trigger, WorkflowInstance
from apps.engine.states import InstanceStatus
from apps.engine.targets import resolve_targets
from apps.jobs.redaction import MASK

# Starts a person asked for (a child is part of its parent's run): the kill switch never
# refuses them. Every other trigger (schedule, webhook, alert, and any added later) is
# automated and refused while the switch is on.
MANUAL_TRIGGERS = frozenset({Trigger.MANUAL, Trigger.API, Trigger.PARENT, Trigger.RERUN})


def split_variables(snapshot: dict[str, Any], overrides: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Declared defaults + overrides -> (plain, sensitive). Undeclared names are a 400."""
    declared = {var["name"]: var for var in snapshot.get("variables", [])}
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise InvalidInput(
            f"Unknown variable(s): {', '.join(unknown)}. Declared: {', '.join(sorted(declared)) or 'none'}.",
            code="unknown_variable",
        )
    plain: dict[str, Any] = {}
    sensitive: dict[str, Any] = {}
    for name, var in declared.items():
        value = overrides.get(name, var.get("default"))
        if value is None and var.get("required"):
            raise InvalidInput(f"Variable '{name}' is required.", code="missing_variable")
        (sensitive if var.get("sensitive") else plain)[name] = value
    return plain, sensitive


def redact_sensitive_defaults(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A sensitive variable's value lives only encrypted (`sensitive_variables`), so the
    frozen definition must not keep its default in clear."""
    variables = [
        {**var, "default": MASK} if var.get("sensitive") and var.get("default") is not None else var
        for var in snapshot.get("variables", [])
    ]
    return {**snapshot, "variables": variables}


def instance_start(
    *,
    definition: Any,
    actor: Any,
    hosts: list[Any] | None = None,
    groups: list[Any] | None = None,
    variables: dict[str, Any] | None = None,
    scheduled_for: datetime | None = None,
    trigger: str = Trigger.MANUAL,
    trigger_data: dict[str, Any] | None = None,
    parent: WorkflowInstance | None = None,
    parent_step: StepExecution | None = None,
    batch_index: int | None = None,
    targets: list[dict[str, Any]] | None = None,
    rerun_of: WorkflowInstance | None = None,
) -> WorkflowInstance:
    from apps.automation.selectors import kill_switch_engaged
    from apps.workflows.services import definition_snapshot

    if not definition.is_active:
        raise Conflict(f"Workflow '{definition.name}' is not active.", code="definition_inactive")
    if trigger not in MANUAL_TRIGGERS and kill_switch_engaged(
        organization_id=definition.organization_id, definition_id=definition.pk
    ):
        raise Conflict(f"Automation is paused by the kill switch; automated ({trigger}) starts are refused.",
                       code="kill_switch")
    if rerun_of is not None:
        # A re-run runs what ran: the same frozen definition and the same variables.
        snapshot, version_number = rerun_of.snapshot, rerun_of.version_number
        plain, sensitive_encrypted = dict(rerun_of.variables), rerun_of.sensitive_variables
        sensitive_names_ = sensitive_names(snapshot)
    else:
        snapshot, version_number = definition_snapshot(definition)
        plain, sensitive = split_variables(snapshot, variables or {})
        snapshot = redact_sensitive_defaults(snapshot)
        sensitive_encrypted, sensitive_names_ = encrypt_sensitive(sensitive), set(sensitive)
    if targets is None:
        targets = resolve_targets(organization=definition.organization, hosts=hosts or [], groups=groups or [])
    now = timezone.now()
    if scheduled_for is not None and scheduled_for <= now:
        scheduled_for = None
    with transaction.atomic():
        instance = WorkflowInstance.objects.create(
            organization_id=definition.organization_id,
            definition=definition,
            workflow_name=definition.name,
            version_number=version_number,
            snapshot=snapshot,
            status=InstanceStatus.SCHEDULED if scheduled_for else InstanceStatus.PENDING,
            variables=plain,
            sensitive_variables=sensitive_encrypted,
            targets=targets,
            trigger=trigger,
            trigger_data=trigger_data or {},
            triggered_by=actor if getattr(actor, "is_authenticated", False) else None,
            parent=parent,
            parent_step=parent_step,
            batch_index=batch_index,
            rerun_of=rerun_of,
            scheduled_for=scheduled_for,
        )
        timeout = snapshot.get("default_timeout_seconds")
        if timeout:
            instance.timeout_at = (scheduled_for or now) + timedelta(seconds=int(timeout))
            instance.save(update_fields=["timeout_at"])
            timer_add(instance, kind=TimerKind.WORKFLOW_TIMEOUT, due_at=instance.timeout_at)
        if scheduled_for:
            timer_add(instance, kind=TimerKind.START, due_at=scheduled_for)
        audit_record(
            actor=actor,
            action="instance.start",
            target=instance,
            data={
                "workflow": definition.name,
                "version": version_number,
                "trigger": trigger,
                "hosts": [t["hostname"] for t in targets][:50],
                "host_count": len(targets),
                "variables": {**plain, **{name: MASK for name in sensitive_names_}},
                "scheduled_for": scheduled_for.isoformat() if scheduled_for else None,
            },
        )
        if not scheduled_for:
            wake.instance_wake(instance.pk)
    return instance
