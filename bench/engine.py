"""Engine benchmark (issue #4 item 14): `make bench`, or `.venv/bin/python bench/engine.py`.

Self-contained: its own database (opsflow_bench, dropped and created), Redis DB 12
(flushed), and the Procfile's real processes (web, worker, jobs, beat) with Celery's
default concurrency, started here and always stopped. Then, in one run:

- idle: RSS of web + both workers (with their pool children) + beat after startup;
- baseline: a raw Celery chain of hops (one Postgres UPDATE + commit each), alone and
  20 chains in parallel, in its own worker (bench/baseline_tasks.py);
- A: instances of `set` steps -> steps/s, transitions/s, step-to-step latency;
- B: instances of `command: true` steps on a local host, all at once and one by one ->
  step-to-step overhead (command end -> next command start), its parts, end-to-end;
- C: one `command: true` step fanned out to 1,000 and 10,000 hosts -> plan+dispatch
  time, end-to-end time, peak RSS (VmHWM) of every process.

Prints a table (MISSED marks a target not met; the exit code stays 0: this is a
report) and a JSON document, also written to bench/results/engine-latest.json.
Options: --quick (small counts, a smoke run), --scenario idle,baseline,A,B,C (A also
runs A_burst, B also B_serial, C both sizes), --keep-db (leave opsflow_bench and the
process logs for inspection).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.engine_bench import system  # noqa: E402
from bench.engine_bench.processes import CpuMeter, ProcessSet  # noqa: E402
from bench.engine_bench.report import Report, cpu_table, write_json  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "engine-latest.json"
SCENARIOS = ("idle", "baseline", "A", "B", "C")
IDLE_SECONDS = 5.0
FULL = {"a": (200, 10), "b": (200, 5), "b_serial": 20, "c": (1_000, 10_000), "hops": 100, "chains": 20}
QUICK = {"a": (20, 10), "b": (20, 5), "b_serial": 5, "c": (100, 1_000), "hops": 20, "chains": 20}
PREFECT_CONCURRENT_TASKS_PER_S = 110  # measured on the project machine (issue #4)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run of every scenario")
    parser.add_argument("--scenario", default=",".join(SCENARIOS),
                        help=f"comma-separated subset of {','.join(SCENARIOS)} (default: all)")
    parser.add_argument("--keep-db", action="store_true", help=f"do not drop {system.DB_NAME} at the end")
    args = parser.parse_args(argv)
    args.scenarios = [name.strip() for name in args.scenario.split(",") if name.strip()]
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(sorted(unknown))}; choose from {', '.join(SCENARIOS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks below
    tmp = Path(tempfile.mkdtemp(prefix="opsflow-bench-"))
    env = system.bench_environment(tmp)
    os.chdir(ROOT)
    document: dict[str, Any] = {"machine": machine(), "sizes": sizes, "quick": args.quick, "scenarios": {}}
    print(f"opsflow engine bench ({'quick' if args.quick else 'full'}): db {system.DB_NAME}, "
          f"redis {system.REDIS_URL}, logs in {tmp}", flush=True)
    system.database_recreate()
    processes = ProcessSet(cwd=ROOT, env=env)
    try:
        prepare_django()
        document["startup"] = system.start_system(processes, tmp=tmp)
        print(f"  processes ready: {document['startup']}", flush=True)
        run_scenarios(args.scenarios, sizes, processes, tmp, document["scenarios"])
        document["memory_after_run"] = processes.memory()
    finally:
        processes.stop_all()
        finish_services(keep_db=args.keep_db)
    failed = [key for key, result in document["scenarios"].items() if "error" in result]
    if failed or args.keep_db:
        print(f"process logs kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    document["machine"]["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    report = build_report(document["scenarios"], sizes)
    document["checks"] = report.as_json()
    document["missed"] = [f"{row.scenario}: {row.metric}" for row in report.missed]
    print("\n" + report.table())
    print("\nCPU seconds per scenario (postgres = the whole server; other = Redis and any other program):")
    print(cpu_table(document["scenarios"]))
    print("\n" + write_json(RESULTS, document))
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")
    for row in report.missed:
        print(f"MISSED: {row.scenario} {row.metric} = {row.shown()} (target {row.target})")
    if not report.missed:
        print("all targets met")
    return 0


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
        "note": "other processes on the machine (e.g. test runs) share the CPUs; see cpu.other per scenario",
    }


def prepare_django() -> None:
    import django
    from django.core.management import call_command

    django.setup()
    started = time.monotonic()
    call_command("migrate", verbosity=0, interactive=False)
    system.redis_flush()
    print(f"  migrated {system.DB_NAME} in {time.monotonic() - started:.1f} s", flush=True)


def finish_services(*, keep_db: bool) -> None:
    try:
        system.redis_flush()
        if not keep_db:
            system.database_drop()
    except Exception as exc:
        print(f"cleanup: {exc}", file=sys.stderr)


def run_scenarios(
    names: list[str], sizes: dict[str, Any], processes: ProcessSet, tmp: Path, out: dict[str, Any]
) -> None:
    from bench.engine_bench import scenarios as sc

    organization, user = system.bench_fixtures()
    bench = sc.Bench(organization=organization, user=user)
    a_instances, a_steps = sizes["a"]
    b_instances, b_steps = sizes["b"]
    plan: list[tuple[str, str, Any]] = [
        ("idle", "idle", lambda: idle(processes)),
        ("baseline", "baseline", lambda: baseline(processes, tmp, sizes)),
        ("A", "A", lambda: sc.scenario_a(bench, instances=a_instances, steps=a_steps, burst=False, timeout=300)),
        ("A", "A_burst", lambda: sc.scenario_a(bench, instances=a_instances, steps=a_steps, burst=True, timeout=300)),
        ("B", "B", lambda: sc.scenario_b(bench, instances=b_instances, steps=b_steps, serial=False, timeout=600)),
        ("B", "B_serial",
         lambda: sc.scenario_b(bench, instances=sizes["b_serial"], steps=b_steps, serial=True, timeout=120)),
        *[("C", f"C_{n}", lambda n=n: sc.scenario_c(bench, hosts=n, timeout=120 + n * 0.1)) for n in sizes["c"]],
    ]
    for selector, key, run in plan:
        if selector not in names:
            continue
        print(f"== {key} ...", flush=True)
        meter = CpuMeter(processes)
        try:
            processes.check_alive()
            result = run()
        except Exception as exc:
            traceback.print_exc()
            result = {"error": f"{type(exc).__name__}: {exc}"}
        result["cpu_seconds"] = meter.stop()
        result.setdefault("memory", processes.memory())
        out[key] = result
        print(f"   {summary(result)}", flush=True)


def summary(result: dict[str, Any]) -> str:
    shown = {k: v for k, v in result.items() if not isinstance(v, dict | list) and k != "transition_definition"}
    return ", ".join(f"{k}={v}" for k, v in shown.items())


def idle(processes: ProcessSet) -> dict[str, Any]:
    time.sleep(IDLE_SECONDS)
    return {"idle_seconds": IDLE_SECONDS, "memory": processes.memory()}


def baseline(processes: ProcessSet, tmp: Path, sizes: dict[str, Any]) -> dict[str, Any]:
    from bench.engine_bench.baseline import prepare_table, run_chains

    prepare_table()
    system.start_baseline_worker(processes, tmp=tmp)
    try:
        single = run_chains(chains=1, hops=sizes["hops"])
        parallel = run_chains(chains=sizes["chains"], hops=sizes["hops"])
    finally:
        processes.stop("baseline")
    return {"single_chain": single, "parallel_chains": parallel}


def build_report(s: dict[str, Any], sizes: dict[str, Any]) -> Report:
    from bench.engine_bench.targets import add_rows

    report = Report()
    add_rows(report, s, sizes, prefect_rate=PREFECT_CONCURRENT_TASKS_PER_S)
    return report


if __name__ == "__main__":
    sys.exit(main())
