"""command and script: one job per target host, with max_parallel and a canary.

The step's `result` keeps small counters only (never per-host lists), so a 10,000-host
step costs a few aggregate queries per advance.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.db.models import Count

from apps.engine.errors import ErrorClass
from apps.engine.runtime import Outcome, StepRun
from apps.engine.step_types.base import Execution
from apps.jobs.dispatch import jobs_cancel_queued, jobs_create
from apps.jobs.models import JOB_ACTIVE, Job, JobStatus
from apps.steps.fanout import canary_size

FAILURE_PREVIEW = 5
# Up to this many dispatched hosts, a poll reads the step's job rows instead of counting.
SMALL_STEP_HOSTS = 20


def first_attempt(run: StepRun) -> int:
    """The attempt the step's run began with: 1, or the one after a restart of the instance
    from the beginning (every host runs again then, and the canary too)."""
    return int(run.step.result.get("restarted_at_attempt") or 1)


class FanoutExecution(Execution):
    def start(self, run: StepRun) -> Outcome:
        hosts = self.attempt_hosts(run)
        if not hosts and run.step.result.get("only_hosts") is not None:
            return self.nothing_to_rerun(run)
        if not hosts:
            return Outcome.failed(ErrorClass.CONFIG_ERROR, "The instance has no target hosts for this step.")
        canary = self.canary_size(run, len(hosts)) if run.step.attempt == first_attempt(run) else 0
        result: dict[str, Any] = {"hosts_total": len(hosts), "dispatched": 0, "canary": None}
        if canary:
            threshold = run.definition.get("canary_success_threshold") or 80
            result["canary"] = {"hosts": canary, "threshold": threshold, "state": "running"}
        run.step.result = {**run.step.result, **result}
        self.dispatch(run, hosts, canary or self.capacity(run, active=0))
        return Outcome.running(**run.step.result)

    def on_event(self, run: StepRun) -> Outcome | None:
        step = run.step
        jobs: list[dict[str, Any]] | None = None
        if int(step.result.get("dispatched") or 0) <= SMALL_STEP_HOSTS:
            # A few rows: read them once, for the counts and (when all ended) the result.
            jobs = self.job_rows(run)
            counts = dict(Counter(job["status"] for job in jobs))
        else:
            counts = dict(
                Job.objects.filter(step_execution=step, attempt=step.attempt)
                .values_list("status")
                .annotate(n=Count("id"))
                .values_list("status", "n")
            )
        active = sum(counts.get(status, 0) for status in JOB_ACTIVE)
        done = sum(counts.values()) - active
        result = dict(step.result)
        result["jobs"] = counts
        canary = result.get("canary")
        if canary and canary["state"] == "running":
            if active:
                return Outcome.running(**result)
            rate = 100.0 * counts.get(JobStatus.SUCCEEDED, 0) / max(done, 1)
            canary.update(success_rate=round(rate, 1))
            if rate < canary["threshold"]:
                canary["state"] = "failed"
                return Outcome.failed(
                    ErrorClass.CANARY_FAILED,
                    f"Canary failed: {rate:.0f}% of {done} canary host(s) succeeded, "
                    f"{canary['threshold']}% needed; the other hosts were not touched.",
                    **result,
                )
            canary["state"] = "passed"
        hosts_total = result["hosts_total"]
        # New hosts go out only while a step could start: a pause or the kill switch stops
        # the fan-out here (the hosts already sent finish), and a resume carries it on.
        if result["dispatched"] < hosts_total and run.engine.may_start(step):
            capacity = self.capacity(run, active=active)
            if capacity > 0:
                step.result = result
                self.dispatch(run, self.attempt_hosts(run), capacity)
                return Outcome.running(**step.result)
        if result["dispatched"] < hosts_total and not active:
            run.engine.held.add(step.pk)  # hosts left and none running: at rest while it may not go on
        if active or result["dispatched"] < hosts_total:
            return Outcome.running(**result)
        return self.finish(run, result, jobs)

    def stop(self, run: StepRun, mode: str) -> None:
        from apps.jobs.services import jobs_request_stop

        jobs_cancel_queued(step=run.step)
        if mode in ("term", "kill"):
            jobs_request_stop(instance_id=run.instance.pk, mode=mode, step_id=run.step.step_id)

    # --- helpers --------------------------------------------------------------------
    def attempt_hosts(self, run: StepRun) -> list[dict[str, Any]]:
        """Every target on the first attempt; on a retry, the hosts that did not succeed."""
        targets = run.instance.targets
        only = run.step.result.get("only_hosts")
        if only is not None:  # a `no_reset` re-run: the hosts that did not succeed last time
            wanted = set(only)
            targets = [host for host in targets if host["hostname"] in wanted]
        since = first_attempt(run)
        if run.step.attempt <= since:
            return targets
        succeeded = set(
            Job.objects.filter(step_execution=run.step, status=JobStatus.SUCCEEDED, attempt__gte=since)
            .values_list("hostname", flat=True)
        )
        return [host for host in targets if host["hostname"] not in succeeded]

    def nothing_to_rerun(self, run: StepRun) -> Outcome:
        from apps.engine.models import StepExecution

        previous = StepExecution.objects.filter(pk=run.step.result.get("previous_execution")).first()
        return Outcome.succeeded(
            output=previous.output if previous else None,
            hosts_total=0,
            note="Every host succeeded in the re-run instance; nothing to run again (no_reset).",
        )

    def canary_size(self, run: StepRun, hosts: int) -> int:
        return canary_size(hosts, run.definition.get("canary_percentage"))

    def capacity(self, run: StepRun, *, active: int) -> int:
        limit = run.spec.get("max_parallel")
        return max(int(limit) - active, 0) if limit else 1 << 30

    def dispatch(self, run: StepRun, hosts: list[dict[str, Any]], count: int) -> None:
        step = run.step
        start = step.result.get("dispatched", 0)
        batch = hosts[start : start + count]
        if not batch:
            return
        canary = bool(step.result.get("canary")) and step.result["canary"]["state"] == "running"
        queued = jobs_create(
            step=step,
            hosts=batch,
            attempt=step.attempt,
            timeout_seconds=run.spec.get("timeout_seconds"),
            canary=canary,
        )
        jobs = Counter(step.result.get("jobs") or {})
        jobs.update({JobStatus.QUEUED: queued, JobStatus.FAILED: len(batch) - queued})
        step.result = {**step.result, "dispatched": start + len(batch), "jobs": {k: n for k, n in jobs.items() if n}}
        if queued:
            # No worker sees these jobs before this pass commits, and the last of them to
            # end wakes the engine: polling the step again in this pass would find nothing.
            run.engine.awaiting_commit.add(step.pk)

    def job_rows(self, run: StepRun) -> list[dict[str, Any]]:
        return list(
            Job.objects.filter(step_execution=run.step, attempt=run.step.attempt)
            .order_by("id")
            .values("hostname", "status", "exit_code", "error_class", "error_message", "output")
        )

    def finish(self, run: StepRun, result: dict[str, Any], jobs: list[dict[str, Any]] | None = None) -> Outcome:
        if jobs is None:
            jobs = self.job_rows(run)
        failed = [job for job in jobs if job["status"] != JobStatus.SUCCEEDED]
        output = next((job["output"] for job in jobs if job["output"] is not None), None)
        exit_codes = [job["exit_code"] for job in jobs if job["exit_code"] is not None]
        result["exit_code"] = next((job["exit_code"] for job in failed if job["exit_code"] is not None),
                                   exit_codes[0] if exit_codes else None)
        if not failed:
            return Outcome.succeeded(output=output, **result)
        classes = Counter(job["error_class"] or "Canceled" for job in failed)
        error_class = classes.most_common(1)[0][0]
        preview = ", ".join(
            f"{job['hostname']} ({job['error_class'] or job['status']}: {job['error_message'][:120]})"
            for job in failed[:FAILURE_PREVIEW]
        )
        more = f" and {len(failed) - FAILURE_PREVIEW} more" if len(failed) > FAILURE_PREVIEW else ""
        outcome = Outcome.failed(error_class, f"{len(failed)} of {len(jobs)} host(s) failed: {preview}{more}", **result)
        outcome.output = output
        return outcome
