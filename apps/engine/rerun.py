"""Re-run a finished instance (DESIGN §6): a new instance with `rerun_of`.

Without `tasks` the whole workflow runs again, with the same frozen definition, targets
and variables. With `tasks` the new instance keeps the earlier results of every step that
is not one of the tasks or downstream of one (they are laid out as `reused_from` rows and
never executed again) and starts at the tasks. A parallel step with a task in one of its
branches waits again (`rejoin`): the re-run branches rejoin at its join while the other
branches keep their results. `no_reset` re-runs only the hosts of a fan-out task that did
not succeed: all of `tasks` (`true`) or those it lists. `dry_run` returns the plan and
writes nothing.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from apps.audit.services import audit_record
from apps.core.errors import Conflict, InvalidInput, TransitionNotAllowed
from apps.engine.models import StepExecution, Trigger, WorkflowInstance
from apps.engine.states import INSTANCE_TERMINAL, STEP_DONE, StepStatus
from apps.jobs.models import Job, JobStatus

FANOUT_TYPES = frozenset({"command", "script"})
PLAN_HOSTS_SHOWN = 1_000


@dataclass
class RerunPlan:
    tasks: list[str] = field(default_factory=list)
    ignored: list[dict[str, str]] = field(default_factory=list)
    start: list[str] = field(default_factory=list)  # laid out `pending`
    downstream: list[str] = field(default_factory=list)  # run if the routing reaches them
    rejoin: list[str] = field(default_factory=list)  # parallel steps that wait again
    reuse: list[StepExecution] = field(default_factory=list)
    only_hosts: dict[str, list[str]] = field(default_factory=dict)  # no_reset fan-out tasks

    def as_dict(self, instance: WorkflowInstance, *, no_reset: bool | list[str]) -> dict[str, Any]:
        targets = [t["hostname"] for t in instance.targets]
        specs = {s["id"]: s for s in instance.snapshot.get("steps", [])}

        def hosts(step_id: str) -> dict[str, Any] | None:
            if specs[step_id]["type"] not in FANOUT_TYPES:
                return None
            names = self.only_hosts.get(step_id, targets)
            return {"count": len(names), "hostnames": names[:PLAN_HOSTS_SHOWN]}

        steps: list[dict[str, Any]] = []
        steps += [{"step": s, "action": "start", "hosts": hosts(s)} for s in self.start]
        steps += [{"step": s, "action": "run_if_reached", "hosts": hosts(s)} for s in self.downstream]
        steps += [{"step": s, "action": "rejoin"} for s in self.rejoin]
        steps += [
            {"step": row.step_id, "action": "reuse", "status": row.status, "output": row.output,
             "error_class": row.error_class, "finished_at": row.finished_at}
            for row in self.reuse
        ]
        return {
            "rerun_of": instance.pk,
            "workflow": instance.workflow_name,
            "version_number": instance.version_number,
            "tasks": self.tasks,
            "ignored_tasks": self.ignored,
            "no_reset": no_reset,
            "steps": steps,
        }


def _successors(specs: dict[str, dict[str, Any]], step_id: str, *, branches: bool) -> list[str]:
    from apps.engine.lifecycle import successors

    spec = specs[step_id]
    if spec["type"] == "parallel" and not branches:
        edges = [spec.get("on_success"), spec.get("on_failure")]
    else:
        edges = successors(spec)
    return [edge for edge in edges if edge and edge in specs]


def _closure(specs: dict[str, dict[str, Any]], roots: list[str], *, branches_of_roots: bool = True) -> list[str]:
    """Steps reachable from `roots` (roots included), in breadth-first order."""
    seen: dict[str, None] = {}
    queue = deque((root, branches_of_roots) for root in roots)
    while queue:
        step_id, branches = queue.popleft()
        if step_id in seen:
            continue
        seen[step_id] = None
        queue.extend((edge, True) for edge in _successors(specs, step_id, branches=branches))
    return list(seen)


def _executed(row: StepExecution | None) -> bool:
    return row is not None and row.status in STEP_DONE and row.status != StepStatus.UNREACHABLE


def executed_steps(steps: list[StepExecution]) -> list[StepExecution]:
    """The steps a re-run may start at (the portal's task choices): those that ran."""
    return [row for row in steps if _executed(row)]


def _no_reset_tasks(requested: list[str], no_reset: bool | list[str]) -> set[str]:
    """`no_reset`: true = every task, false = none, or the task ids (each one of `tasks`)
    whose fan-out re-runs only the hosts that did not succeed."""
    if isinstance(no_reset, bool):
        return set(requested) if no_reset else set()
    stray = [task for task in dict.fromkeys(no_reset) if task not in requested]
    if stray:
        raise InvalidInput(
            f"no_reset names task(s) that are not in tasks: {', '.join(stray)}; "
            "list only tasks the re-run starts at.",
            code="no_reset_not_in_tasks",
        )
    return set(no_reset)


def rerun_plan(instance: WorkflowInstance, *, tasks: list[str], no_reset: bool | list[str]) -> RerunPlan:
    specs = {s["id"]: s for s in instance.snapshot.get("steps", [])}
    rows = {row.step_id: row for row in instance.steps.all()}
    plan = RerunPlan()
    keep_hosts = _no_reset_tasks(list(tasks), no_reset)
    if not tasks:
        first = instance.snapshot.get("start") or next(iter(specs), None)
        plan.start = [first] if first else []
        plan.downstream = [s for s in _closure(specs, plan.start) if s not in plan.start]
        return plan
    requested: list[str] = list(dict.fromkeys(tasks))  # duplicates count once
    unknown = [t for t in requested if t not in specs]
    if unknown:
        raise InvalidInput(f"Unknown task(s): {', '.join(unknown)}.", code="unknown_task")
    never = [t for t in requested if not _executed(rows.get(t))]
    if never:
        raise InvalidInput(
            f"Task(s) never executed in instance {instance.pk}: {', '.join(never)}; "
            "a re-run starts only at steps that ran.",
            code="task_not_executed",
        )
    below = {t: set(_closure(specs, [t])) - {t} for t in requested}
    for task in requested:
        parent = next((other for other in requested if other != task and task in below[other]), None)
        if parent is not None:
            plan.ignored.append({"task": task, "reason": f"downstream of requested task '{parent}'"})
        else:
            plan.tasks.append(task)
    plan.start = list(plan.tasks)
    # Parallel steps holding a task in a branch wait again; what follows their join runs again.
    rejoin: list[str] = []
    for task in plan.tasks:
        container = rows[task].parallel_id
        while container and container not in rejoin and container not in plan.tasks:
            rejoin.append(container)
            container = rows[container].parallel_id if container in rows else ""
    plan.rejoin = [c for c in rejoin if not any(c in below[t] for t in plan.tasks)]
    after_join = _closure(specs, plan.rejoin, branches_of_roots=False)
    rerun = set(_closure(specs, plan.tasks)) | set(after_join)
    plan.downstream = [s for s in dict.fromkeys([*_closure(specs, plan.tasks), *after_join])
                       if s not in plan.start and s not in plan.rejoin]
    plan.reuse = [row for step_id, row in rows.items() if step_id not in rerun and _executed(row)
                  and step_id not in plan.rejoin]
    for task in plan.tasks:
        if task in keep_hosts and specs[task]["type"] in FANOUT_TYPES:
            plan.only_hosts[task] = _hosts_not_succeeded(instance, rows[task])
    return plan


def _hosts_not_succeeded(instance: WorkflowInstance, row: StepExecution) -> list[str]:
    succeeded = set(
        Job.objects.filter(step_execution=row.reused_from_id or row.pk, status=JobStatus.SUCCEEDED)
        .values_list("hostname", flat=True)
    )
    return [t["hostname"] for t in instance.targets if t["hostname"] not in succeeded]


def instance_rerun(
    *,
    instance_id: int,
    organization_id: int,
    actor: Any,
    tasks: list[str] | None = None,
    no_reset: bool | list[str] = False,
    dry_run: bool = False,
) -> tuple[WorkflowInstance | None, dict[str, Any]]:
    """(the new instance, or None for a dry run; the plan)."""
    from apps.engine.selectors import instance_for_org

    original = instance_for_org(instance_id=instance_id, organization_id=organization_id)
    if original.status not in INSTANCE_TERMINAL:
        raise TransitionNotAllowed(
            f"Instance {original.pk} is still {original.status}; only a finished instance can be re-run.",
            code="instance_not_terminal",
        )
    plan = rerun_plan(original, tasks=tasks or [], no_reset=no_reset)
    summary = plan.as_dict(original, no_reset=no_reset)
    if dry_run:
        return None, summary
    if original.definition is None:
        raise Conflict("The workflow of this instance was deleted; it cannot be re-run.", code="definition_deleted")
    with transaction.atomic():
        instance = _start(original, actor=actor)
        _lay_out(instance, plan)
        audit_record(actor=actor, action="instance.rerun", target=original,
                     data={"rerun": instance.pk, "tasks": plan.tasks, "no_reset": no_reset})
    return instance, summary


def _start(original: WorkflowInstance, *, actor: Any) -> WorkflowInstance:
    from apps.engine.services import instance_start

    return instance_start(
        definition=original.definition,
        actor=actor,
        trigger=Trigger.RERUN,
        trigger_data={"rerun_of": original.pk},
        targets=original.targets,
        rerun_of=original,
    )


def _lay_out(instance: WorkflowInstance, plan: RerunPlan) -> None:
    """The new instance's steps before its first advance (which sees them laid out)."""
    if not plan.tasks:
        return
    originals = {row.step_id: row for row in instance.rerun_of.steps.all()}
    new_rows = [
        StepExecution(
            instance=instance, step_id=row.step_id, step_type=row.step_type, status=row.status,
            attempt=row.attempt, parallel_id=row.parallel_id, branch=row.branch, started_at=row.started_at,
            finished_at=row.finished_at, error_class=row.error_class, error_message=row.error_message,
            output=row.output, result=row.result, next_step=row.next_step,
            reused_from_id=row.reused_from_id or row.pk,
        )
        for row in plan.reuse
    ]
    for step_id in plan.rejoin:
        row = originals[step_id]
        new_rows.append(StepExecution(
            instance=instance, step_id=step_id, step_type=row.step_type, status=StepStatus.RUNNING,
            attempt=1, parallel_id=row.parallel_id, branch=row.branch, result={**row.result, "rejoin": True},
            started_at=row.started_at,
        ))
    for step_id in plan.start:
        row = originals[step_id]
        result: dict[str, Any] = {}
        if step_id in plan.only_hosts:
            result = {"only_hosts": plan.only_hosts[step_id], "previous_execution": row.reused_from_id or row.pk}
        new_rows.append(StepExecution(
            instance=instance, step_id=step_id, step_type=row.step_type, status=StepStatus.PENDING,
            parallel_id=row.parallel_id, branch=row.branch, result=result,
        ))
    StepExecution.objects.bulk_create(new_rows)
