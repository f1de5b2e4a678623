"""Row locks on an instance's rows, and the one order every writer takes them in.

Lock order (STYLE rule 2). A writer takes the locks it needs in this order and never an
earlier one after a later one, so two writers cannot deadlock:

    instance -> its child instances -> its step executions (by id) -> its timers
             -> jobs (apps.jobs.services) -> approval requests (apps.approvals.services)

The instance lock comes first even when only a step's or an approval's row changes: it is
what serialises the engine's pass with operators, approvers, timers and notification
deliveries (DESIGN §3). A parent instance is locked before its children (a parent's pass
cancels them; a child wakes its parent only after its own commit). Jobs and approvals lock
only their own rows, so the engine may call them with the instance locked.
"""

from __future__ import annotations

from django.db.models import QuerySet

from apps.core.errors import NotFound
from apps.engine.models import StepExecution, Timer, WorkflowInstance


def instance_lock(*, instance_id: int, organization_id: int) -> WorkflowInstance:
    """An organization's instance, locked; any other is a 404 (DESIGN §7)."""
    instance = (
        WorkflowInstance.objects.select_for_update().filter(pk=instance_id, organization_id=organization_id).first()
    )
    if instance is None:
        raise NotFound("Instance not found.")
    return instance


def instance_lock_by_id(instance_id: int | None, *, defer: tuple[str, ...] = ()) -> WorkflowInstance | None:
    """The engine's own lock (a task, a timer, a delivery of the instance): None when gone."""
    return WorkflowInstance.objects.select_for_update().defer(*defer).filter(pk=instance_id).first()


def children_lock(
    *, parent: WorkflowInstance | None = None, parent_step: StepExecution | None = None
) -> QuerySet[WorkflowInstance]:
    """The child instances of a locked parent (or of one of its steps), locked when read."""
    children = WorkflowInstance.objects.select_for_update().order_by("pk")
    if parent is not None:
        children = children.filter(parent=parent)
    if parent_step is not None:
        children = children.filter(parent_step=parent_step)
    return children


def step_lock(instance: WorkflowInstance, step_id: str) -> StepExecution | None:
    """One step execution of a locked instance."""
    return StepExecution.objects.select_for_update().filter(instance=instance, step_id=step_id).first()


def step_lock_by_id(step_execution_id: int) -> StepExecution | None:
    """A step execution by id; its instance is locked first (instance_lock*)."""
    return StepExecution.objects.select_for_update().filter(pk=step_execution_id).first()


def steps_lock(instance: WorkflowInstance) -> list[StepExecution]:
    """Every step execution of a locked instance, by id."""
    return list(StepExecution.objects.select_for_update().filter(instance=instance).order_by("id"))


def timer_lock(timer_id: int) -> Timer | None:
    """A timer that has not fired yet; its instance is locked first."""
    return Timer.objects.select_for_update().filter(pk=timer_id, fired_at__isnull=True).first()
