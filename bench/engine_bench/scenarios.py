"""Scenarios A, B and C: instances started through the engine's own service
(`instance_start`), run by the real worker processes, measured from the rows the engine
wrote (every timestamp below is a database column, not a guess from polling).
"""

from __future__ import annotations

import contextlib
import itertools
import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bench.engine_bench.report import dist_ms, gaps, percentile, seconds, spans

TRANSITION_DEFINITION = (
    "a transition is one committed status change of a step row: pending->running and "
    "->succeeded count 1 each; a set step goes pending->succeeded in one change, so in A "
    "transitions == steps (creating the row as pending and the instance's own status "
    "changes are not counted)"
)


class ScenarioError(RuntimeError):
    pass


def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclass
class Bench:
    """The organization, actor and inventory the scenarios run in."""

    organization: Any
    user: Any

    def workflow(self, name: str, steps: list[dict[str, Any]]) -> Any:
        from apps.workflows.services import definition_create, definition_publish

        definition = definition_create(organization=self.organization, actor=self.user,
                                       data={"name": name, "steps": steps})
        return definition_publish(definition_id=definition.pk, organization=self.organization, actor=self.user)

    def start(self, definition: Any, hosts: list[int] | None = None) -> int:
        from apps.engine.services import instance_start

        return instance_start(definition=definition, actor=self.user, hosts=hosts or []).pk

    def local_hosts(self, count: int) -> list[int]:
        """`count` hosts with the local connection (created once, reused by later calls)."""
        from apps.inventory.models import Host

        existing = Host.objects.filter(organization=self.organization, hostname__startswith="bench-")
        have = existing.count()
        if have < count:
            Host.objects.bulk_create(
                [Host(organization=self.organization, hostname=f"bench-{i:05d}", connection="local")
                 for i in range(have, count)],
                batch_size=2000,
            )
        return list(existing.order_by("hostname").values_list("pk", flat=True)[:count])


def chain(step_type: str, count: int, config: Any) -> list[dict[str, Any]]:
    steps = []
    for i in range(count):
        spec = {"id": f"s{i + 1:02d}", "type": step_type, "config": config(i)}
        if i + 1 < count:
            spec["on_success"] = f"s{i + 2:02d}"
        steps.append(spec)
    return steps


def wait_terminal(bench: Bench, ids: list[int], *, timeout: float, label: str) -> None:
    """Until every instance has ended; on timeout the rest are killed and the scenario fails."""
    from apps.engine.models import WorkflowInstance
    from apps.engine.states import INSTANCE_TERMINAL

    deadline = time.monotonic() + timeout
    while True:
        remaining = WorkflowInstance.objects.filter(pk__in=ids).exclude(status__in=INSTANCE_TERMINAL)
        left = remaining.count()
        if not left:
            return
        if time.monotonic() > deadline:
            statuses = sorted(set(remaining.values_list("status", "pause_reason")))[:5]
            _kill(bench, list(remaining.values_list("pk", flat=True)))
            raise ScenarioError(f"{label}: {left} of {len(ids)} instances still active after {timeout:.0f} s "
                                f"({statuses}); they were killed")
        time.sleep(0.05)


def _kill(bench: Bench, ids: list[int]) -> None:
    from apps.engine.controls import instance_cancel

    for instance_id in ids:
        try:
            instance_cancel(instance_id=instance_id, organization_id=bench.organization.pk, actor=None, mode="kill")
        except Exception as exc:  # already ended meanwhile
            print(f"  (could not cancel instance {instance_id}: {exc})")


def step_rows(ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    from apps.engine.models import StepExecution

    per_instance: dict[int, list[dict[str, Any]]] = defaultdict(list)
    fields = ("pk", "instance_id", "status", "created_at", "started_at", "finished_at")
    for row in StepExecution.objects.filter(instance_id__in=ids).order_by("instance_id", "id").values(*fields):
        per_instance[row["instance_id"]].append(row)
    return per_instance


def instance_rows(ids: list[int]) -> list[dict[str, Any]]:
    from apps.engine.models import WorkflowInstance

    return list(WorkflowInstance.objects.filter(pk__in=ids).values("pk", "status", "created_at", "started_at",
                                                                    "finished_at", "error_message"))


def _outcome(instances: list[dict[str, Any]], started: datetime) -> dict[str, Any]:
    ended = [row["finished_at"] for row in instances if row["finished_at"]]
    failed = [row for row in instances if row["status"] != "succeeded"]
    return {
        "elapsed_s": round(seconds(max(ended) - started), 3) if ended else None,
        "instances_not_succeeded": len(failed),
        "first_error": (failed[0]["status"] + ": " + failed[0]["error_message"][:200]) if failed else "",
        "instance_e2e_ms": dist_ms(spans(instances, "finished_at", "created_at")),
        # From instance_start's commit to the first advance task moving it to running.
        "first_advance_wait_ms": dist_ms(spans(instances, "started_at", "created_at")),
    }


# --- A ---------------------------------------------------------------------------------
def scenario_a(bench: Bench, *, instances: int, steps: int, burst: bool, timeout: float) -> dict[str, Any]:
    """`burst`: every instance_start in one transaction, so that the workers receive all
    the instances at the commit: the engine's own rate, without the start loop's pace."""
    from django.db import transaction

    definition = bench.workflow(f"bench-a-{steps}x-set{'-burst' if burst else ''}",
                                chain("set", steps, lambda i: {"variables": {f"v{i + 1}": str(i + 1)}}))
    calls: list[float] = []
    started = now_utc()
    with transaction.atomic(durable=True) if burst else contextlib.nullcontext():
        ids = []
        for _ in range(instances):
            began = time.perf_counter()
            ids.append(bench.start(definition))
            calls.append(time.perf_counter() - began)
    start_loop = seconds(now_utc() - started)
    if burst:
        started = now_utc()  # the workers see the instances from the commit on
    wait_terminal(bench, ids, timeout=timeout, label="A")
    result = {"instances": instances, "steps_per_instance": steps, "mode": "burst" if burst else "loop",
              "start_loop_s": round(start_loop, 3), "instance_start_call_ms": dist_ms(calls),
              **_outcome(instance_rows(ids), started)}
    step_to_step: list[float] = []
    per_step: list[float] = []
    transitions = completed = 0
    for rows in step_rows(ids).values():
        completed += sum(1 for row in rows if row["status"] == "succeeded")
        transitions += sum((row["started_at"] is not None) + (row["finished_at"] is not None) for row in rows)
        for prev, nxt in itertools.pairwise(rows):
            # A set step has no started_at (pending->succeeded): it starts when it is created.
            step_to_step += gaps(nxt["started_at"] or nxt["created_at"], prev["finished_at"])
            per_step += gaps(nxt["finished_at"], prev["finished_at"])
    elapsed = result["elapsed_s"] or None
    result.update(
        steps_completed=completed,
        steps_per_s=round(completed / elapsed, 1) if elapsed else None,
        transitions=transitions,
        transitions_per_s=round(transitions / elapsed, 1) if elapsed else None,
        transition_definition=TRANSITION_DEFINITION,
        step_to_step_latency_ms=dist_ms(step_to_step),
        per_step_cost_ms=dist_ms(per_step),
    )
    return result


# --- B ---------------------------------------------------------------------------------
def command_runtime_seconds(command: str, runs: int = 30) -> float:
    """What the command itself costs here: fork+exec of /bin/sh -c from a Python process."""
    durations = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(["/bin/sh", "-c", command], check=True)
        durations.append(time.perf_counter() - began)
    return percentile(durations, 50) or 0.0


def scenario_b(bench: Bench, *, instances: int, steps: int, serial: bool, timeout: float) -> dict[str, Any]:
    """`serial`: one instance at a time (overhead without queueing behind other instances)."""
    definition = bench.workflow(f"bench-b-{steps}x-true-{'serial' if serial else 'concurrent'}",
                                chain("command", steps, lambda i: {"command": "true"}))
    localhost = _localhost(bench)
    started = now_utc()
    ids = []
    for _ in range(instances):
        ids.append(bench.start(definition, hosts=[localhost]))
        if serial:
            wait_terminal(bench, ids[-1:], timeout=timeout, label="B serial")
    start_loop = seconds(now_utc() - started)
    wait_terminal(bench, ids, timeout=timeout, label="B")
    result = {"instances": instances, "steps_per_instance": steps, "mode": "serial" if serial else "concurrent",
              "start_loop_s": round(start_loop, 3), **_outcome(instance_rows(ids), started)}
    result.update(_command_metrics(ids))
    elapsed = result["elapsed_s"]
    result["steps_per_s"] = round(instances * steps / elapsed, 1) if elapsed else None
    return result


def _localhost(bench: Bench) -> int:
    from apps.inventory.models import Host

    host, _ = Host.objects.get_or_create(organization=bench.organization, hostname="localhost",
                                         defaults={"connection": "local", "primary_ip": "127.0.0.1"})
    return host.pk


def _command_metrics(ids: list[int]) -> dict[str, Any]:
    from apps.jobs.models import Job

    jobs = {row["step_execution_id"]: row for row in Job.objects.filter(instance_id__in=ids).values(
        "step_execution_id", "created_at", "started_at", "finished_at")}
    m: dict[str, list[float]] = defaultdict(list)
    for rows in step_rows(ids).values():
        for step in rows:
            job = jobs.get(step["pk"])
            if job is None:
                continue
            # step.started_at is stamped after the step's start() returned, i.e. after
            # its jobs were created: the step row's creation (activation) is the anchor.
            m["dispatch"] += gaps(job["created_at"], step["created_at"])
            m["queue_wait"] += gaps(job["started_at"], job["created_at"])
            m["job_duration"] += gaps(job["finished_at"], job["started_at"])
            m["completion"] += gaps(step["finished_at"], job["finished_at"])
        for prev, nxt in itertools.pairwise(rows):
            m["step_gap"] += gaps(nxt["started_at"], prev["finished_at"])
            m["cycle"] += gaps(nxt["finished_at"], prev["finished_at"])
            prev_job, next_job = jobs.get(prev["pk"]), jobs.get(nxt["pk"])
            if prev_job and next_job:
                m["handoff"] += gaps(next_job["started_at"], prev_job["finished_at"])
    runtime = command_runtime_seconds("true")
    return {
        "command_runtime_ms": round(runtime * 1000, 2),
        # The overhead per step: from one step's command ending to the next one starting.
        "step_to_step_overhead_ms": dist_ms(m["handoff"]),
        "step_gap_ms": dist_ms(m["step_gap"]),
        "job_queue_wait_ms": dist_ms(m["queue_wait"]),
        "dispatch_ms": dist_ms(m["dispatch"]),
        "completion_ms": dist_ms(m["completion"]),
        "job_duration_ms": dist_ms(m["job_duration"]),
        "runner_overhead_ms": dist_ms(max(d - runtime, 0.0) for d in m["job_duration"]),
        "cycle_ms": dist_ms(m["cycle"]),
        "cycle_minus_command_ms": dist_ms(max(c - runtime, 0.0) for c in m["cycle"]),
    }


# --- C ---------------------------------------------------------------------------------
def scenario_c(bench: Bench, *, hosts: int, timeout: float) -> dict[str, Any]:
    from django.db.models import Max, Min

    from apps.engine.models import StepExecution
    from apps.jobs.models import Job

    host_ids = bench.local_hosts(hosts)
    definition = bench.workflow(f"bench-c-{hosts}-hosts", chain("command", 1, lambda i: {"command": "true"}))
    t0 = now_utc()
    instance_id = bench.start(definition, hosts=host_ids)
    start_call = seconds(now_utc() - t0)
    deadline = time.monotonic() + 120
    while Job.objects.filter(instance_id=instance_id).count() < hosts:
        if time.monotonic() > deadline:
            raise ScenarioError(f"C {hosts}: the jobs were not all created within 120 s")
        time.sleep(0.02)
    planned = seconds(now_utc() - t0)
    wait_terminal(bench, [instance_id], timeout=timeout, label=f"C {hosts}")
    step = StepExecution.objects.get(instance_id=instance_id)
    jobs = Job.objects.filter(instance_id=instance_id).aggregate(
        last_created=Max("created_at"), first_started=Min("started_at"), last_finished=Max("finished_at"))
    instance = instance_rows([instance_id])[0]
    run_seconds = seconds(jobs["last_finished"] - jobs["first_started"])
    return {
        "hosts": hosts,
        "instance_status": instance["status"],
        "start_call_s": round(start_call, 3),
        "plan_dispatch_s": round(planned, 3),
        "instance_created_to_advance_started_s": round(seconds(instance["started_at"] - instance["created_at"]), 3),
        # The advance pass that starts the step begins with the instance going running.
        "advance_started_to_last_job_created_s": round(seconds(jobs["last_created"] - instance["started_at"]), 3),
        # Negative: the engine stamps step.started_at after start() has created the jobs.
        "step_started_to_last_job_created_s": round(seconds(jobs["last_created"] - step.started_at), 3),
        "first_job_started_s": round(seconds(jobs["first_started"] - t0), 3),
        "e2e_s": round(seconds(instance["finished_at"] - t0), 3),
        "last_job_to_instance_finished_s": round(seconds(instance["finished_at"] - jobs["last_finished"]), 3),
        "jobs_per_s": round(hosts / run_seconds, 1) if run_seconds else None,
    }
