"""Instance and step statuses and the transition table (DESIGN §5, STYLE rule 3).

This module is the only code that assigns `WorkflowInstance.status` and
`StepExecution.status`. A transition not in the table raises `IllegalTransition`, a bug
in the caller, never something a user can cause: user-facing refusals are checked by the
services before they get here and raised as `TransitionNotAllowed` (409).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import connection, models
from django.utils import timezone


class InstanceStatus(models.TextChoices):
    SCHEDULED = "scheduled"
    PENDING = "pending"
    RUNNING = "running"
    PAUSING = "pausing"
    PAUSED = "paused"
    CANCELING = "canceling"
    FORCE_CANCELING = "force_canceling"
    KILL_CANCELING = "kill_canceling"
    CANCELED = "canceled"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"
    TIMEOUT = "timeout"
    TERMINATED = "terminated"


class PauseReason(models.TextChoices):
    OPERATOR = "operator"
    KILL_SWITCH = "kill_switch"
    RETRY_DELAY = "retry_delay"
    AWAITING_APPROVAL = "awaiting_approval"
    DELAY = "delay"
    STEP_FAILED = "step_failed"


class StepStatus(models.TextChoices):
    PENDING = "pending"
    WAITING = "waiting"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELED = "canceled"
    REJECTED = "rejected"
    UNREACHABLE = "unreachable"


I = InstanceStatus  # noqa: E741 - local shorthand for the table below
S = StepStatus

INSTANCE_TERMINAL = frozenset({I.CANCELED, I.SUCCEEDED, I.FAILED, I.REJECTED, I.TIMEOUT, I.TERMINATED})
INSTANCE_CANCELING = frozenset({I.CANCELING, I.FORCE_CANCELING, I.KILL_CANCELING})
INSTANCE_ACTIVE = frozenset({I.PENDING, I.RUNNING, I.PAUSING}) | INSTANCE_CANCELING
# Not finished, and not waiting for its start time: what the dashboard counts as active.
INSTANCE_UNFINISHED = frozenset(I) - INSTANCE_TERMINAL - {I.SCHEDULED}
# Ended in an error of its own; canceled, rejected and terminated runs were stopped by a
# person and are not counted as failures.
INSTANCE_FAILED = frozenset({I.FAILED, I.TIMEOUT})
STEP_DONE = frozenset({S.SUCCEEDED, S.FAILED, S.SKIPPED, S.CANCELED, S.REJECTED, S.UNREACHABLE})
STEP_ACTIVE = frozenset({S.PENDING, S.WAITING, S.RUNNING})
STEP_OK = frozenset({S.SUCCEEDED, S.SKIPPED})

_ENDINGS = {I.SUCCEEDED, I.FAILED, I.REJECTED, I.TIMEOUT, I.TERMINATED, I.CANCELED}
INSTANCE_TRANSITIONS: dict[str, frozenset[str]] = {
    I.SCHEDULED: frozenset({I.PENDING, I.CANCELED, I.TERMINATED}),
    I.PENDING: frozenset({I.RUNNING, I.CANCELING, I.FORCE_CANCELING, I.KILL_CANCELING} | _ENDINGS),
    I.RUNNING: frozenset({I.PAUSING, I.PAUSED} | INSTANCE_CANCELING | _ENDINGS),
    I.PAUSING: frozenset({I.RUNNING, I.PAUSED} | INSTANCE_CANCELING | _ENDINGS),
    I.PAUSED: frozenset({I.RUNNING} | INSTANCE_CANCELING | _ENDINGS),
    I.CANCELING: frozenset({I.FORCE_CANCELING, I.KILL_CANCELING, I.CANCELED, I.TERMINATED, I.TIMEOUT}),
    I.FORCE_CANCELING: frozenset({I.KILL_CANCELING, I.CANCELED, I.TERMINATED}),
    I.KILL_CANCELING: frozenset({I.CANCELED, I.TERMINATED}),
    # A kill may still be sent to a canceled instance whose jobs outlived it.
    I.CANCELED: frozenset({I.KILL_CANCELING}),
    # Retry instance: the same instance resumes at the failed step.
    I.FAILED: frozenset({I.RUNNING}),
    I.SUCCEEDED: frozenset(),
    I.REJECTED: frozenset(),
    I.TIMEOUT: frozenset(),
    I.TERMINATED: frozenset(),
}

STEP_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.RUNNING, S.WAITING} | STEP_DONE),
    S.WAITING: frozenset({S.RUNNING, S.PENDING} | STEP_DONE),
    S.RUNNING: frozenset({S.WAITING} | STEP_DONE),
    # Retry (back to pending) and skip after a failure; retry after cancel/reject is re-run.
    # A parallel step that failed (or stopped) with its branch waits again when the
    # branch's step is retried (running).
    S.FAILED: frozenset({S.PENDING, S.RUNNING, S.SKIPPED, S.UNREACHABLE}),
    # Retrying a failed instance in which no step failed restarts it from the beginning:
    # its first step is pending again, every other step unreachable until reached again.
    S.CANCELED: frozenset({S.PENDING, S.RUNNING, S.UNREACHABLE}),
    S.SUCCEEDED: frozenset({S.PENDING, S.UNREACHABLE}),
    S.SKIPPED: frozenset({S.PENDING, S.UNREACHABLE}),
    S.REJECTED: frozenset({S.PENDING, S.UNREACHABLE}),
    S.UNREACHABLE: frozenset({S.PENDING}),
}


class IllegalTransition(RuntimeError):
    pass


# --- one write per row per advance pass ------------------------------------------------
# Inside `deferred_writes()` (an advance pass, under the instance lock) the changes to
# instance and step rows are kept in memory and written once when the pass ends, in one
# UPDATE per model: a chain of cheap steps costs an INSERT per step, not four writes. Rows
# are only read back from the database after the pass has committed (job workers,
# notification tasks, other requests), so nobody sees the in-between state anyway.
_pending: ContextVar[dict[int, tuple[Any, set[str]]] | None] = ContextVar("opsflow_pending_writes", default=None)


@contextmanager
def deferred_writes() -> Iterator[None]:
    token = _pending.set({})
    try:
        yield
        flush_writes()
    finally:
        _pending.reset(token)


def save_fields(obj: Any, fields: list[str] | set[str]) -> None:
    """Save `fields` of a row now, or at the end of the current advance pass."""
    obj.updated_at = timezone.now()
    pending = _pending.get()
    if pending is None:
        obj.save(update_fields=[*fields, "updated_at"])
        return
    entry = pending.setdefault(id(obj), (obj, set()))
    entry[1].update(fields)


def flush_writes() -> None:
    pending = _pending.get()
    if not pending:
        return
    by_model: dict[type, list[tuple[Any, set[str]]]] = {}
    for obj, fields in pending.values():
        by_model.setdefault(type(obj), []).append((obj, fields))
    pending.clear()
    for model, rows in by_model.items():
        if len(rows) == 1:
            obj, fields = rows[0]
            obj.save(update_fields=[*fields, "updated_at"])
        else:
            fields = set().union(*(f for _, f in rows)) | {"updated_at"}
            objs = sorted((obj for obj, _ in rows), key=lambda obj: obj.pk)
            if connection.vendor == "postgresql":
                update_rows(model, objs, sorted(fields))
            else:  # SQLite (the embedded mode)
                model.objects.bulk_update(objs, sorted(fields))


def update_rows(model: type[models.Model], objs: list[Any], fields: list[str]) -> None:
    """Write `fields` of every row in `objs` with one `UPDATE ... FROM (VALUES ...)`
    (PostgreSQL).

    What `QuerySet.bulk_update` does, without its CASE WHEN expression per row and field:
    building those cost ~30 ms of CPU for a chain of ten steps, more than the rest of the
    pass. Rows are written in primary-key order (the lock order of concurrent writers)."""
    quote = connection.ops.quote_name
    meta = model._meta
    pk = meta.pk
    columns = [pk, *(meta.get_field(name) for name in fields)]
    placeholders = "(" + ", ".join(f"%s::{field.db_type(connection)}" for field in columns) + ")"
    params: list[Any] = []
    for obj in sorted(objs, key=lambda obj: obj.pk):
        params += [field.get_db_prep_save(getattr(obj, field.attname), connection) for field in columns]
    names = [quote(field.column) for field in columns]
    # Only quoted names from the model's metadata are formatted in; every value is a parameter.
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {', '.join(f'{name} = v.{name}' for name in names[1:])}"  # noqa: S608
        f" FROM (VALUES {', '.join([placeholders] * len(objs))}) AS v({', '.join(names)})"
        f" WHERE t.{names[0]} = v.{names[0]}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _move(obj: Any, table: dict[str, frozenset[str]], to: str, fields: dict[str, Any]) -> list[str]:
    current = obj.status
    if to != current and to not in table[current]:
        raise IllegalTransition(f"{type(obj).__name__} {obj.pk}: {current} -> {to} is not allowed")
    obj.status = to
    for name, value in fields.items():
        setattr(obj, name, value)
    return ["status", *fields]


def instance_transition(instance: Any, to: str, **fields: Any) -> list[str]:
    """Move an instance (already locked by the caller) and return the changed field names.

    Ending states stamp `finished_at`; leaving a paused/waiting state clears `pause_reason`
    unless the caller sets one."""
    if to in INSTANCE_TERMINAL and instance.finished_at is None:
        fields.setdefault("finished_at", timezone.now())
    if to == I.RUNNING and instance.started_at is None:
        fields.setdefault("started_at", timezone.now())
    if to == I.RUNNING and instance.status == I.FAILED:
        fields.setdefault("finished_at", None)
        fields.setdefault("error_class", "")
        fields.setdefault("error_message", "")
    if to not in (I.PAUSED, I.PAUSING, I.RUNNING):
        fields.setdefault("pause_reason", "")
    changed = _move(instance, INSTANCE_TRANSITIONS, to, fields)
    save_fields(instance, changed)
    return changed


def step_transition(step: Any, to: str, **fields: Any) -> list[str]:
    now = timezone.now()
    if to in (S.RUNNING, S.WAITING) and step.started_at is None:
        fields.setdefault("started_at", now)
    if to in STEP_DONE:
        fields.setdefault("finished_at", now)
    if to == S.PENDING:
        fields.setdefault("finished_at", None)
        fields.setdefault("started_at", None)
    changed = _move(step, STEP_TRANSITIONS, to, fields)
    save_fields(step, changed)
    return changed
