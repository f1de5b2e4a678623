"""Carrying a cancel forward inside `advance` (DESIGN §6).

standard (`canceling`): nothing new starts, running jobs finish, waiting steps stop; with
cleanup the definition's `on_cancel` chain runs first; `canceled` once no job is active
and the cleanup chain has ended. force (`force_canceling`): SIGTERM to the running jobs'
process groups and `canceled` at once, without waiting for them: processes that ignore
SIGTERM may still be finishing (the jobs stay `running`, counted as live jobs). kill
(`kill_canceling`): SIGTERM, SIGKILL after the grace, and `canceled` only once every job
has ended, each after its executor checked that nothing of it still runs
(`Job.verified_stopped_at`). Force and kill also stop a cleanup chain, and both wait for
child instances, which are canceled the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from apps.engine.states import STEP_ACTIVE, InstanceStatus, StepStatus, step_transition

if TYPE_CHECKING:
    from apps.engine.advance import Engine

CLEANUP_BRANCH = "__cleanup__"


def cancel_progress(engine: Engine) -> None:
    from apps.engine.lifecycle import finish, has_running_work
    from apps.jobs.services import jobs_request_stop

    instance = engine.instance
    mode = {
        InstanceStatus.CANCELING: "standard",
        InstanceStatus.FORCE_CANCELING: "term",
        InstanceStatus.KILL_CANCELING: "kill",
    }[instance.status]
    if mode != "standard":
        jobs_request_stop(instance_id=instance.pk, mode=mode)
    cleanup_started = _start_cleanup(engine) if mode == "standard" and instance.cancel_cleanup else False
    for step in list(engine.steps.values()):
        if step.status not in STEP_ACTIVE or (step.branch == CLEANUP_BRANCH and mode == "standard"):
            continue
        if step.status == StepStatus.RUNNING and mode == "standard" and step.step_type in ("command", "script"):
            # running jobs finish on their own; only the not-yet-started ones are dropped
            engine.stop_step(step, "queued")
            engine.poll_step(step)
            continue
        engine.stop_step(step, mode)
        step_transition(step, StepStatus.CANCELED)
    if cleanup_started or any(s.branch == CLEANUP_BRANCH and s.status in STEP_ACTIVE for s in engine.steps.values()):
        engine.step_loop(branch=CLEANUP_BRANCH)
    cleanup_active = any(s.branch == CLEANUP_BRANCH and s.status in STEP_ACTIVE for s in engine.steps.values())
    # A force cancel does not wait for its jobs' processes, only for its children.
    if not cleanup_active and not has_running_work(engine, jobs=mode != "term"):
        finish(engine, InstanceStatus.CANCELED, error_message=instance.status_message)


def _start_cleanup(engine: Engine) -> bool:
    first = engine.instance.snapshot.get("on_cancel")
    if not first or first not in engine.specs or first in engine.steps:
        return False
    engine.activate(first, parallel_id="", branch=CLEANUP_BRANCH)
    return True
