"""`advance(instance_id)`: move one instance as far as it can go, under its row lock.

Idempotent (DESIGN §3): every decision is re-derived from the rows, so running it twice,
or concurrently (the second waits on the lock), has the effect of running it once.
Cheap steps (set, conditional, approval creation, routing) finish inline in the same
pass, so a chain of them costs one task. Lock order: instance -> step -> job -> approval.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.core import live, wake
from apps.engine import events, lifecycle
from apps.engine.cancel import CLEANUP_BRANCH
from apps.engine.errors import should_auto_retry
from apps.engine.locks import instance_lock_by_id
from apps.engine.models import StepExecution, TimerKind, WorkflowInstance
from apps.engine.runtime import UNSET, Outcome, StepRun
from apps.engine.states import (
    INSTANCE_CANCELING,
    INSTANCE_TERMINAL,
    STEP_ACTIVE,
    STEP_DONE,
    STEP_OK,
    InstanceStatus,
    PauseReason,
    StepStatus,
    deferred_writes,
    instance_transition,
    save_fields,
    step_transition,
)
from apps.engine.step_types.registry import execution

logger = logging.getLogger(__name__)
# A definition has at most a few hundred steps; more passes than this is a bug looping.
MAX_PASSES = 1_000


def advance(instance_id: int) -> None:
    with transaction.atomic():
        # `targets` can hold 10,000 hosts; only a fan-out's start and dispatch read it.
        instance = instance_lock_by_id(instance_id, defer=("targets",))
        if instance is None:
            return
        engine = Engine(instance)
        with deferred_writes():
            engine.run()
        engine.publish_changes()


class Engine:
    def __init__(self, instance: WorkflowInstance) -> None:
        self.instance = instance
        self.specs: dict[str, dict[str, Any]] = {s["id"]: s for s in instance.snapshot.get("steps", [])}
        self.steps: dict[str, StepExecution] = {s.step_id: s for s in instance.steps.all()}
        self.progressed = False
        self.kill_switch: bool | None = None  # looked up once per pass, when first needed
        # Steps that queued jobs in this pass: nothing about them can change before it commits.
        self.awaiting_commit: set[int] = set()
        # Running fan-out steps with hosts left to send and none running, held by a pause or
        # the kill switch: at a step boundary for the kill switch's pause.
        self.held: set[int] = set()
        self.seen = {s.step_id: (s.status, s.attempt) for s in self.steps.values()}
        self.seen_instance = (instance.status, instance.pause_reason)

    def publish_changes(self) -> None:
        changed = [
            events.step_event(step)
            for step in self.steps.values()
            if self.seen.get(step.step_id) != (step.status, step.attempt)
        ]
        if (self.instance.status, self.instance.pause_reason) != self.seen_instance:
            changed.append(events.instance_event(self.instance))
        live.publish(self.instance.pk, changed)

    # --- reads used by step types -------------------------------------------------
    def step_list(self) -> list[StepExecution]:
        return list(self.steps.values())

    def spec(self, step_id: str) -> dict[str, Any]:
        return self.specs[step_id]

    # --- the pass ---------------------------------------------------------------------
    def run(self) -> None:
        instance = self.instance
        if instance.status in INSTANCE_TERMINAL or instance.status == InstanceStatus.SCHEDULED:
            return
        if instance.status == InstanceStatus.PENDING:
            instance_transition(instance, InstanceStatus.RUNNING)
            self.start_first_step()
        if lifecycle.timeout_due(instance):
            lifecycle.time_out(self)
            return
        if instance.status in INSTANCE_CANCELING:
            lifecycle.progress_cancel(self)
            return
        if instance.status == InstanceStatus.PAUSED:
            return
        self.step_loop()
        self.settle()

    def start_first_step(self) -> None:
        if self.steps:  # a retry or re-run: the steps are already laid out
            return
        first = self.instance.snapshot.get("start") or next(iter(self.specs), None)
        if first:
            self.activate(first, parallel_id="", branch="")

    def may_start(self, step: StepExecution) -> bool:
        if step.branch == CLEANUP_BRANCH:
            return self.instance.status == InstanceStatus.CANCELING
        return self.instance.status == InstanceStatus.RUNNING and not lifecycle.kill_switch_blocks(self)

    def step_loop(self, branch: str | None = None) -> None:
        """Start pending steps and poll active ones until nothing moves (`branch`: only those)."""
        for _ in range(MAX_PASSES):
            moved = False
            for step in sorted(self.steps.values(), key=lambda s: s.pk):
                if self.instance.status in INSTANCE_TERMINAL:
                    return
                if branch is not None and step.branch != branch:
                    continue
                if step.status == StepStatus.PENDING:
                    if not self.may_start(step):
                        continue
                    moved |= self.start_step(step)
                elif step.pk in self.awaiting_commit:
                    continue
                elif step.status == StepStatus.RUNNING or (
                    # A step waiting out its retry delay belongs to its timer, not its type.
                    step.status == StepStatus.WAITING and step.wait_reason != PauseReason.RETRY_DELAY
                ):
                    moved |= self.poll_step(step)
            if not moved:
                return
        logger.error("instance %s: advance did not settle after %s passes", self.instance.pk, MAX_PASSES)

    def handler_run(self, step: StepExecution) -> StepRun:
        # A row whose step is missing from the snapshot (hand-made data) can still be stopped.
        spec = self.specs.get(step.step_id) or {"id": step.step_id, "type": step.step_type, "config": {}}
        return StepRun(instance=self.instance, step=step, spec=spec, engine=self)

    def start_step(self, step: StepExecution) -> bool:
        step.attempt += 1
        step.error_class = step.error_message = ""
        step.started_at = timezone.now()  # before start(): a fan-out creates its jobs in there
        save_fields(step, ["attempt", "error_class", "error_message", "started_at"])
        outcome = execution(step.step_type).start(self.handler_run(step))
        self.apply(step, outcome)
        return True

    def poll_step(self, step: StepExecution) -> bool:
        outcome = execution(step.step_type).on_event(self.handler_run(step))
        if outcome is None:
            return False
        return self.apply(step, outcome)

    def stop_step(self, step: StepExecution, mode: str) -> None:
        """Stop the step's side effects (`mode`: queued|standard|term|kill); its status is the caller's."""
        execution(step.step_type).stop(self.handler_run(step), mode)

    # --- applying an outcome ------------------------------------------------------------
    def apply(self, step: StepExecution, outcome: Outcome) -> bool:
        fields: dict[str, Any] = {}
        if outcome.output is not UNSET:
            fields["output"] = outcome.output
        if outcome.result:
            fields["result"] = {**step.result, **outcome.result}
        if outcome.error_class:
            fields.update(error_class=outcome.error_class, error_message=outcome.error_message[:10_000])
        if outcome.next_step is not None:
            fields["next_step"] = outcome.next_step
        status_changes = outcome.status != step.status or outcome.wait_reason != step.wait_reason
        if not status_changes:
            if fields:
                for name, value in fields.items():
                    setattr(step, name, value)
                save_fields(step, fields)
            return False
        self.progressed = True
        if outcome.status == StepStatus.FAILED and self.schedule_auto_retry(step, outcome, fields):
            return True
        fields["wait_reason"] = outcome.wait_reason if outcome.status == StepStatus.WAITING else ""
        step_transition(step, outcome.status, **fields)
        if outcome.status in STEP_DONE:
            self.route(step)
        return True

    def schedule_auto_retry(self, step: StepExecution, outcome: Outcome, fields: dict[str, Any]) -> bool:
        spec = self.specs[step.step_id]
        if step.attempt > int(spec.get("retry_count") or 0):
            return False
        exit_code = (outcome.result or {}).get("exit_code", step.result.get("exit_code"))
        if not should_auto_retry(
            error_class=outcome.error_class, exit_code=exit_code, retry_on_exit_codes=spec.get("retry_on_exit_codes")
        ):
            return False
        delay = int(spec.get("retry_delay_seconds", 30) or 0)
        due = timezone.now() + timezone.timedelta(seconds=delay)
        fields["wait_reason"] = PauseReason.RETRY_DELAY
        fields["result"] = {**fields.get("result", step.result), "retry_at": due.isoformat()}
        step_transition(step, StepStatus.WAITING, **fields)
        lifecycle.timer_add(self.instance, kind=TimerKind.RETRY, due_at=due, step=step)
        return True

    def route(self, step: StepExecution) -> None:
        spec = self.specs[step.step_id]
        if step.status in STEP_OK:
            target = step.next_step or spec.get("on_success")
        elif step.status in (StepStatus.FAILED, StepStatus.REJECTED):
            target = spec.get("on_failure")
        else:
            target = None
        if target:
            self.activate(target, parallel_id=step.parallel_id, branch=step.branch)
            if step.status == StepStatus.REJECTED:  # what the gate would have led to never runs
                lifecycle.mark_unreachable(self, step, spared=[target])
            return
        if self.instance.status in INSTANCE_CANCELING:
            return  # a cleanup step ended, or a step stopped by the cancel: the cancel decides
        if step.status == StepStatus.FAILED and self.holds(spec):
            lifecycle.hold(self, step)
        elif step.status in (StepStatus.FAILED, StepStatus.REJECTED) and not step.parallel_id:
            lifecycle.end_with_step(self, step)

    def holds(self, spec: dict[str, Any]) -> bool:
        value = spec.get("hold_on_failure")
        if value is None:
            value = self.instance.snapshot.get("hold_on_failure", False)
        return bool(value)

    def activate(self, step_id: str, *, parallel_id: str, branch: str) -> StepExecution:
        existing = self.steps.get(step_id)
        if existing is not None:
            # Each step runs at most once per instance: what succeeded stays done.
            if existing.status in STEP_DONE - STEP_OK and existing.reused_from_id is None:
                step_transition(existing, StepStatus.PENDING, parallel_id=parallel_id, branch=branch)
            return existing
        spec = self.specs[step_id]
        step = StepExecution.objects.create(
            instance=self.instance, step_id=step_id, step_type=spec["type"], parallel_id=parallel_id, branch=branch
        )
        self.steps[step_id] = step
        self.progressed = True
        return step

    # --- after the loop -------------------------------------------------------------------
    def settle(self) -> None:
        instance = self.instance
        if instance.status in INSTANCE_TERMINAL:
            return
        active = [s for s in self.steps.values() if s.status in STEP_ACTIVE]
        if instance.status == InstanceStatus.PAUSING:
            if not lifecycle.instance_has_active_work(instance):
                instance_transition(instance, InstanceStatus.PAUSED)
                wake.instance_wake(instance.parent_id)  # a pausing parent waits for its children
            return
        if instance.status != InstanceStatus.RUNNING:
            return
        if not active:
            rejection = lifecycle.routed_rejection(self)
            if rejection is not None:
                lifecycle.end_rejected(self, rejection)
            else:
                lifecycle.succeed(self)
            return
        running = any(s.status == StepStatus.RUNNING and s.pk not in self.held for s in active)
        waiting = [s for s in active if s.status == StepStatus.WAITING]
        reason = waiting[0].wait_reason if waiting and not running else ""
        blocked = self.held or any(s.status == StepStatus.PENDING for s in active)
        if blocked and lifecycle.kill_switch_blocks(self):
            if not running:
                instance_transition(instance, InstanceStatus.PAUSED, pause_reason=PauseReason.KILL_SWITCH,
                                    status_message="Kill switch active")
            return
        if reason != instance.pause_reason:
            instance.pause_reason = reason
            save_fields(instance, ["pause_reason"])
        if self.progressed:
            WorkflowInstance.objects.filter(pk=instance.pk).update(progressed_at=timezone.now())
