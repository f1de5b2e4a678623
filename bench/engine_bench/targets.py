"""The rows of the printed table: issue #4 item 14's targets, and the numbers behind them."""

from __future__ import annotations

from typing import Any

from bench.engine_bench.report import Report

IDLE_LIMIT_MB = 600
PEAK_LIMIT_MB = 500
PLAN_LIMIT_S = 5.0
CHEAP_STEP_LIMIT_MS = 2.0


def get(data: dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def times(factor: float, value: float | None) -> float | None:
    return factor * value if value is not None else None


def add_rows(report: Report, s: dict[str, Any], sizes: dict[str, Any], *, prefect_rate: float) -> None:
    for key, result in s.items():
        if "error" in result:
            report.check(key, f"ERROR: {result['error'][:80]}", None, "", at_least=1, target="completes")
    _idle(report, s)
    hop_single = get(s, "baseline", "single_chain", "hop_latency_ms", "p50")
    hop_parallel = get(s, "baseline", "parallel_chains", "hop_latency_ms", "p50")
    hops_per_s = get(s, "baseline", "parallel_chains", "hops_per_s")
    if "baseline" in s:
        chains = sizes["chains"]
        report.info("baseline", "1 chain: hops/s", get(s, "baseline", "single_chain", "hops_per_s"), "/s")
        report.info("baseline", "1 chain: hop latency p50", hop_single, "ms")
        report.info("baseline", "1 chain: hop latency p99", get(s, "baseline", "single_chain", "hop_latency_ms", "p99"),
                    "ms")
        report.info("baseline", f"{chains} chains: hops/s", hops_per_s, "/s")
        report.info("baseline", f"{chains} chains: hop latency p50", hop_parallel, "ms")
        report.info("baseline", f"{chains} chains: hop latency p99",
                    get(s, "baseline", "parallel_chains", "hop_latency_ms", "p99"), "ms")
    _a(report, s, hops_per_s, prefect_rate)
    _b(report, s, hop_parallel, hop_single)
    _c(report, s, sizes)


def _idle(report: Report, s: dict[str, Any]) -> None:
    if "idle" not in s:
        return
    report.check("idle", "RSS web+workers+beat", get(s, "idle", "memory", "rss_total_mb"), "MB",
                 at_most=IDLE_LIMIT_MB, target=f"< {IDLE_LIMIT_MB} MB")
    report.info("idle", "PSS web+workers+beat (shared pages split)", get(s, "idle", "memory", "pss_total_mb"), "MB")


def _a(report: Report, s: dict[str, Any], hops_per_s: float | None, prefect_rate: float) -> None:
    a = s.get("A")
    if not a or "error" in a:
        return
    rate = a.get("steps_per_s")
    report.check("A", "steps/s (= transitions/s, see JSON)", rate, "/s", at_least=times(1.5, hops_per_s),
                 target=f">= 1.5x parallel hops/s ({_fmt(times(1.5, hops_per_s))})")
    report.check("A", "steps/s vs Prefect", rate, "/s", at_least=3 * prefect_rate,
                 target=f">= 3x {prefect_rate:g} = {3 * prefect_rate:g}")
    report.check("A", "cheap step cost p50 (finish->finish)", get(a, "per_step_cost_ms", "p50"), "ms",
                 at_most=CHEAP_STEP_LIMIT_MS, target=f"<= {CHEAP_STEP_LIMIT_MS:g} ms")
    report.info("A", "cheap step cost p99", get(a, "per_step_cost_ms", "p99"), "ms")
    report.info("A", "step-to-step latency p50", get(a, "step_to_step_latency_ms", "p50"), "ms")
    report.info("A", "step-to-step latency p99", get(a, "step_to_step_latency_ms", "p99"), "ms")
    report.info("A", "start -> first advance p50", get(a, "first_advance_wait_ms", "p50"), "ms")
    report.info("A", "elapsed (first start -> last done)", a.get("elapsed_s"), "s")
    report.info("A", "instance_start call p50", get(a, "instance_start_call_ms", "p50"), "ms")
    burst = s.get("A_burst")
    if burst and "error" not in burst:
        report.info("A_burst", "steps/s (all instances committed at once)", burst.get("steps_per_s"), "/s")
        report.info("A_burst", "cheap step cost p50", get(burst, "per_step_cost_ms", "p50"), "ms")
        report.info("A_burst", "elapsed (commit -> last done)", burst.get("elapsed_s"), "s")


def _b(report: Report, s: dict[str, Any], hop_parallel: float | None, hop_single: float | None) -> None:
    for key, hop, label in (("B", hop_parallel, "parallel"), ("B_serial", hop_single, "1-chain")):
        b = s.get(key)
        if not b or "error" in b:
            continue
        overhead = get(b, "step_to_step_overhead_ms", "p50")
        report.check(key, "step-to-step overhead p50", overhead, "ms", at_most=times(3, hop),
                     target=f"<= 3x {label} hop p50 ({_fmt(times(3, hop))} ms)")
        report.info(key, "step-to-step overhead p99", get(b, "step_to_step_overhead_ms", "p99"), "ms")
        for metric, field in (("job queue wait", "job_queue_wait_ms"), ("job end -> step end", "completion_ms"),
                              ("runner overhead (job - command)", "runner_overhead_ms"),
                              ("step cycle - command", "cycle_minus_command_ms")):
            report.info(key, f"{metric} p50", get(b, field, "p50"), "ms")
            report.info(key, f"{metric} p99", get(b, field, "p99"), "ms")
        report.info(key, "steps/s", b.get("steps_per_s"), "/s")
        report.info(key, "end-to-end (first start -> last done)", b.get("elapsed_s"), "s")


def _c(report: Report, s: dict[str, Any], sizes: dict[str, Any]) -> None:
    largest = max(sizes["c"])
    for hosts in sizes["c"]:
        key = f"C_{hosts}"
        c = s.get(key)
        if not c or "error" in c:
            continue
        plan = c.get("plan_dispatch_s")
        if hosts == largest:
            report.check(key, "plan+dispatch (start -> all jobs exist)", plan, "s", at_most=PLAN_LIMIT_S,
                         target=f"<= {PLAN_LIMIT_S:g} s" + ("" if hosts == 10_000 else " (set for 10,000)"))
        else:
            report.info(key, "plan+dispatch (start -> all jobs exist)", plan, "s")
        report.info(key, "advance start -> last job created", c.get("advance_started_to_last_job_created_s"), "s")
        report.info(key, "step.started_at -> last job created", c.get("step_started_to_last_job_created_s"), "s")
        report.info(key, "end-to-end", c.get("e2e_s"), "s")
        report.info(key, "jobs/s", c.get("jobs_per_s"), "/s")
        processes = get(c, "memory", "processes") or []
        worst = max(processes, key=lambda p: p["peak_rss_mb"], default=None)
        if worst is not None:
            report.check(key, f"peak RSS max ({worst['role']} pid {worst['pid']})", worst["peak_rss_mb"], "MB",
                         at_most=PEAK_LIMIT_MB, target=f"<= {PEAK_LIMIT_MB} MB per process")


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f}"
