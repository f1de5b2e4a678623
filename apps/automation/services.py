"""The kill switch (DESIGN §6): engage and release it for an organization or one of its
workflows, and record the automatic release when an engagement's `until` passes.

What the switch does lives with the engine: `instance_start` refuses automated starts and
`advance` pauses running instances at their next step boundary, both by asking
`kill_switch_engaged`.

Lock order: the organization row (it serializes engagements and releases in one
organization, so a double click cannot engage twice), then its kill switch rows. The
expiry sweep takes kill switch rows only, with skip_locked, so it never waits on them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Organization
from apps.audit.services import audit_record
from apps.automation.models import KillSwitch
from apps.automation.selectors import kill_switches_engaged
from apps.core.errors import InvalidInput
from apps.workflows.models import WorkflowDefinition
from apps.workflows.selectors import definition_for_ref

UNTIL_REACHED = "until reached"
REASON_MAX = 2000
EXPIRE_BATCH = 200


def kill_switch_check(*, reason: str, until: datetime | None) -> str:
    """The engagement's own rules (also the admin form's); returns the trimmed reason."""
    reason = _reason(reason)
    if not reason:
        raise InvalidInput("Say why automation is paused: a reason is required.", code="reason_required")
    if until is not None and until <= timezone.now():
        raise InvalidInput("'until' has already passed: choose a time in the future.", code="until_in_past")
    return reason


@transaction.atomic
def kill_switch_engage(
    *, organization: Organization, actor: Any, reason: str, until: datetime | None = None, workflow: Any = None
) -> KillSwitch:
    """Halt automation for the organization, or for one workflow (`workflow`: its id or
    name). Engaging a scope that is already engaged returns that engagement unchanged."""
    reason = kill_switch_check(reason=reason, until=until)
    _lock(organization)
    definition = _definition(organization, workflow)
    existing = _engaged(organization, definition).first()
    if existing is not None:
        return existing
    switch = KillSwitch.objects.create(
        organization=organization, workflow=definition, reason=reason, until=until, engaged_by=_user(actor)
    )
    audit_record(actor=actor, action="automation.pause", target=switch,
                 data={**_scope(switch, definition), "reason": reason, "until": until})
    return switch


@transaction.atomic
def kill_switch_release(
    *, organization: Organization, actor: Any, reason: str = "", workflow: Any = None
) -> list[KillSwitch]:
    """Release the engaged switch(es) of the organization, or of one workflow. Returns what
    was released; nothing engaged is a harmless no-op. Instances the switch paused stay
    paused until an operator resumes them."""
    reason = _reason(reason)
    _lock(organization)
    definition = _definition(organization, workflow)
    switches = list(_engaged(organization, definition))
    now = timezone.now()
    for switch in switches:
        switch.released_at, switch.released_by, switch.release_reason = now, _user(actor), reason
        switch.save(update_fields=["released_at", "released_by", "release_reason", "updated_at"])
        audit_record(actor=actor, action="automation.resume", target=switch,
                     data={**_scope(switch, definition), "reason": reason, "engaged_reason": switch.reason})
    return switches


@transaction.atomic
def kill_switches_expire() -> int:
    """Record the release of engagements whose `until` has passed (the beat sweeper's tick).
    The selectors already treat them as off; this stamps the history and the audit trail."""
    now = timezone.now()
    due = list(
        KillSwitch.objects.select_for_update(skip_locked=True)
        .filter(released_at__isnull=True, until__lte=now)
        .order_by("until", "id")[:EXPIRE_BATCH]
    )
    for switch in due:
        switch.released_at, switch.release_reason = switch.until, UNTIL_REACHED
        switch.save(update_fields=["released_at", "release_reason", "updated_at"])
        audit_record(actor=None, action="automation.resume", target=switch,
                     data={**_scope(switch, switch.workflow), "reason": UNTIL_REACHED, "until": switch.until})
    return len(due)


def _reason(text: str) -> str:
    text = (text or "").strip()
    if len(text) > REASON_MAX:
        raise InvalidInput(f"Keep the reason under {REASON_MAX} characters.", code="reason_too_long")
    return text


def _lock(organization: Organization) -> None:
    Organization.objects.select_for_update().filter(pk=organization.pk).values_list("pk", flat=True).first()


def _definition(organization: Organization, workflow: Any) -> WorkflowDefinition | None:
    return None if workflow is None else definition_for_ref(organization=organization, ref=workflow)


def _engaged(organization: Organization, definition: WorkflowDefinition | None) -> Any:
    return kill_switches_engaged(organization_id=organization.pk).filter(workflow=definition).select_for_update()


def _scope(switch: KillSwitch, definition: WorkflowDefinition | None) -> dict[str, Any]:
    return {"scope": switch.scope, "workflow": definition.name if definition is not None else None}


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None
