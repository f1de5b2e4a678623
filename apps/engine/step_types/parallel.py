"""parallel: run every branch; join `all` (every branch ends) or `any` (first success).

A branch is the chain of steps started from one branch root; its steps carry this step's
id as `parallel_id`. A branch has ended when none of its steps is active; it ended well
when its last step ended well (a failure routed by on_failure counts as handled).
"""

from __future__ import annotations

from apps.engine.errors import ErrorClass
from apps.engine.models import StepExecution
from apps.engine.runtime import Outcome, StepRun
from apps.engine.states import STEP_ACTIVE, STEP_OK, StepStatus, step_transition
from apps.engine.step_types.base import Execution


def branch_steps(run: StepRun, branch: str) -> list[StepExecution]:
    return [
        s for s in run.engine.step_list() if s.parallel_id == run.step.step_id and s.branch == branch
    ]


def branch_state(run: StepRun, branch: str) -> str:
    """running | ok | failed"""
    steps = branch_steps(run, branch)
    if not steps or any(s.status in STEP_ACTIVE for s in steps):
        return "running"
    last = max(steps, key=lambda s: (s.finished_at or s.created_at, s.pk))
    return "ok" if last.status in STEP_OK else "failed"


class ParallelExecution(Execution):
    def start(self, run: StepRun) -> Outcome:
        for branch in run.config.get("branches") or []:
            run.engine.activate(branch, parallel_id=run.step.step_id, branch=branch)
        return Outcome.running(branches={b: "running" for b in run.config.get("branches") or []})

    def on_event(self, run: StepRun) -> Outcome | None:
        branches = run.config.get("branches") or []
        states = {branch: branch_state(run, branch) for branch in branches}
        join = run.config.get("join") or "all"
        if join == "any" and "ok" in states.values():
            winner = next(b for b, state in states.items() if state == "ok")
            self.stop_branches(run, mode="term", keep=winner)
            return Outcome.succeeded(output={"branches": states, "winner": winner}, branches=states, winner=winner)
        if "running" in states.values():
            if states != run.step.result.get("branches"):
                return Outcome.running(branches=states)
            return None
        failed = [b for b, state in states.items() if state == "failed"]
        if (join == "all" and failed) or join == "any":
            return Outcome.failed(ErrorClass.BRANCH_FAILED, f"Branch(es) failed: {', '.join(failed)}.",
                                  branches=states)
        return Outcome.succeeded(output={"branches": states}, branches=states)

    def stop(self, run: StepRun, mode: str) -> None:
        self.stop_branches(run, mode=mode, keep=None)

    def stop_branches(self, run: StepRun, *, mode: str, keep: str | None) -> None:
        for step in run.engine.step_list():
            if step.parallel_id != run.step.step_id or step.branch == keep or step.status not in STEP_ACTIVE:
                continue
            run.engine.stop_step(step, mode)
            step_transition(step, StepStatus.CANCELED)
