"""Live-log benchmark (issue #6 item 9): `make bench`, or `.venv/bin/python bench/logs.py`.

Self-contained like bench/engine.py (and built on its helpers): its own database
(opsflow_bench_logs, dropped and created), its own Redis DB (flushed), the Procfile's
real processes (web under uvicorn, worker, jobs, beat). Scenarios:

- burst_1: one job prints 200,000 lines as fast as it can while one WebSocket client
  (token auth, no Origin, compression on as in browsers) watches the instance;
- burst_20: the same with 20 clients watching (client 0 here, 19 in a child process);
- paced: one job prints 50,000 lines at 5,000 lines/s, one client.

Measured: lines/s stored (LogCursor.last_seq sampled every 0.05 s), lines/s delivered
per client (first to last line received), print-to-receipt latency (each line carries the
time.time() at which the job printed it; the clients compare with their own clock on the
same machine) and, per client, every seq of the instance received exactly once.

Prints a table (MISSED marks a target not met; the exit code stays 0: this is a report)
and writes bench/results/logs-latest.json. Options: --quick (20,000 lines, 5 clients),
--scenario burst_1,burst_20,paced, --keep-db.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.engine_bench import system  # noqa: E402
from bench.engine_bench.processes import CpuMeter, ProcessSet  # noqa: E402
from bench.engine_bench.report import Report, dist_ms, write_json  # noqa: E402

system.DB_NAME = "opsflow_bench_logs"
system.REDIS_URL = os.environ.get("OPSFLOW_BENCH_LOGS_REDIS", "redis://127.0.0.1:6379/13")
RESULTS = ROOT / "bench" / "results" / "logs-latest.json"
SCENARIOS = ("burst_1", "burst_20", "paced")
FULL = {"lines": 200_000, "viewers": 20, "paced_lines": 50_000, "paced_rate": 5_000}
QUICK = {"lines": 20_000, "viewers": 5, "paced_lines": 10_000, "paced_rate": 5_000}
TERMINAL = {"canceled", "succeeded", "failed", "rejected", "timeout", "terminated"}
TARGETS = {"stored": 20_000, "delivered": 20_000, "p99_ms": 250}
# The job waits a moment before printing so that every client is connected first.
JOB = """import sys, time
time.sleep(1.5)
write, now = sys.stdout.write, time.time
lines, rate = {lines}, {rate}
start = now()
for i in range(lines):
    if rate and i % 50 == 0:
        late = start + i / rate - now()
        if late > 0:
            time.sleep(late)
    write(f"{{i}} {{now():.6f}}\\n")
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument("--scenario", default=",".join(SCENARIOS), help=f"subset of {','.join(SCENARIOS)}")
    parser.add_argument("--keep-db", action="store_true", help=f"do not drop {system.DB_NAME} at the end")
    parser.add_argument("--no-compression", action="store_true",
                        help="clients do not offer permessage-deflate (browsers do; this shows what it costs)")
    args = parser.parse_args(argv)
    args.scenarios = [name.strip() for name in args.scenario.split(",") if name.strip()]
    if set(args.scenarios) - set(SCENARIOS):
        parser.error(f"choose scenarios from {', '.join(SCENARIOS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = Path(tempfile.mkdtemp(prefix="opsflow-bench-logs-"))
    env = system.bench_environment(tmp)
    os.chdir(ROOT)
    document: dict[str, Any] = {"machine": machine(), "sizes": sizes, "compression": not args.no_compression,
                                "scenarios": {}}
    print(f"opsflow live-log bench: db {system.DB_NAME}, redis {system.REDIS_URL}, logs in {tmp}", flush=True)
    system.database_recreate()
    processes = ProcessSet(cwd=ROOT, env=env)
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0, interactive=False)
        system.redis_flush()
        document["startup"] = system.start_system(processes, tmp=tmp)
        run_scenarios(args.scenarios, sizes, processes, document, no_compression=args.no_compression)
    finally:
        processes.stop_all()
        try:
            system.redis_flush()
            if not args.keep_db:
                system.database_drop()
        except Exception as exc:
            print(f"cleanup: {exc}", file=sys.stderr)
    if any("error" in result for result in document["scenarios"].values()) or args.keep_db:
        print(f"process logs kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    document["machine"]["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    report = build_report(document["scenarios"])
    document["checks"] = report.as_json()
    print("\n" + report.table())
    print("\n" + write_json(RESULTS, document)[:2000])
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")
    for row in report.missed:
        print(f"MISSED: {row.scenario} {row.metric} = {row.shown()} (target {row.target})")
    return 0


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
            "note": "the machine is shared: other processes (test runs) use the CPUs too; see cpu_seconds.other"}


def run_scenarios(
    names: list[str], sizes: dict[str, Any], processes: ProcessSet, document: dict, *, no_compression: bool
) -> None:
    bench = Setup.create(port=document["startup"]["web_port"], compression=not no_compression)
    plan = {
        "burst_1": lambda: scenario(bench, lines=sizes["lines"], rate=0, viewers=1),
        "burst_20": lambda: scenario(bench, lines=sizes["lines"], rate=0, viewers=sizes["viewers"]),
        "paced": lambda: scenario(bench, lines=sizes["paced_lines"], rate=sizes["paced_rate"], viewers=1),
    }
    for name in names:
        print(f"== {name} ...", flush=True)
        meter = CpuMeter(processes)
        try:
            processes.check_alive()
            result = plan[name]()
        except Exception as exc:
            traceback.print_exc()
            result = {"error": f"{type(exc).__name__}: {exc}"}
        result["cpu_seconds"] = meter.stop()
        document["scenarios"][name] = result
        print("   " + ", ".join(f"{k}={v}" for k, v in result.items() if not isinstance(v, dict | list)), flush=True)


class Setup:
    """The organization, owner, API token, local host and started instances."""

    def __init__(self, organization: Any, user: Any, key: str, host_id: int, port: int, compression: bool) -> None:
        self.organization, self.user, self.key, self.host_id, self.port = organization, user, key, host_id, port
        self.compression = compression

    @classmethod
    def create(cls, *, port: int, compression: bool) -> Setup:
        from apps.accounts.models import Membership
        from apps.accounts.services import api_token_create
        from apps.inventory.models import Host

        organization, user = system.bench_fixtures()
        Membership.objects.create(organization=organization, user=user, role="owner")
        _, key = api_token_create(user=user, name="bench")
        host = Host.objects.create(organization=organization, hostname="localhost", connection="local")
        return cls(organization, user, key, host.pk, port, compression)

    def start(self, *, lines: int, rate: int) -> int:
        from apps.engine.services import instance_start
        from apps.workflows.services import definition_create, definition_publish

        body = JOB.format(lines=lines, rate=rate)
        data = {"name": f"print-{lines}-{time.monotonic_ns()}",
                "steps": [{"id": "print", "type": "script", "config": {"interpreter": "python", "body": body},
                           "timeout_seconds": 900}]}
        definition = definition_create(organization=self.organization, actor=self.user, data=data)
        definition = definition_publish(definition_id=definition.pk, organization=self.organization,
                                        actor=self.user)
        return instance_start(definition=definition, actor=self.user, hosts=[self.host_id]).pk


def scenario(bench: Setup, *, lines: int, rate: int, viewers: int) -> dict[str, Any]:
    """Client 0 (latencies recorded) runs here; the others in a child process, so that
    their work does not delay client 0's reading (all share the machine's CPUs still)."""
    instance_id = bench.start(lines=lines, rate=rate)
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    others = context.Process(target=_other_viewers, args=(bench, instance_id, viewers - 1, results), daemon=True)
    if viewers > 1:
        others.start()
    sampler = StoredSampler(instance_id, lines)
    sampler.start()
    try:
        clients = [asyncio.run(watch(bench, instance_id, record=True))]
    finally:
        sampler.stop()
    if viewers > 1:
        clients += results.get(timeout=600)
        others.join(30)
    return summarize(instance_id, lines, clients, sampler)


def _other_viewers(bench: Setup, instance_id: int, count: int, results: Any) -> None:
    async def all_of_them() -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(watch(bench, instance_id, record=False) for _ in range(count))))

    results.put(asyncio.run(all_of_them()))


class StoredSampler(threading.Thread):
    """LogCursor.last_seq every 0.05 s: when the first and the last line were stored."""

    def __init__(self, instance_id: int, lines: int) -> None:
        super().__init__(daemon=True)
        self.instance_id, self.lines = instance_id, lines
        self.first_at: float | None = None
        self.done_at: float | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        from django.db import connections

        try:
            while not self._halt.wait(0.05):
                self.sample()
            self.sample()  # the end may come within one period
        finally:
            connections.close_all()

    def sample(self) -> None:
        from apps.jobs.models import LogCursor

        last_seq = LogCursor.objects.filter(instance_id=self.instance_id).values_list("last_seq", flat=True).first()
        now = time.time()
        if last_seq and self.first_at is None:
            self.first_at = now
        if (last_seq or 0) >= self.lines and self.done_at is None:
            self.done_at = now

    def stop(self) -> None:
        self._halt.set()
        self.join()


async def watch(bench: Setup, instance_id: int, *, record: bool) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    url = f"ws://127.0.0.1:{bench.port}/ws/instances/{instance_id}/"
    seqs: list[int] = []
    latencies: list[float] = []
    first = last = None
    async with connect(url, additional_headers={"Authorization": f"Token {bench.key}"}, max_size=None,
                       open_timeout=30, ping_timeout=None,
                       compression="deflate" if bench.compression else None) as socket:
        async for raw in socket:
            now = time.time()
            frame = json.loads(raw)
            if frame["type"] == "instance" and frame["status"] in TERMINAL:
                break
            lines = frame["lines"] if frame["type"] == "logs" else [frame] if frame["type"] == "log" else []
            if not lines:
                continue
            seqs.extend(line["seq"] for line in lines)
            if record:
                latencies.extend(now - float(line["line"].split()[1]) for line in lines
                                 if line["stream"] == "stdout" and " " in line["line"])
            first = first or now
            last = now
    return {"count": len(seqs), "unique": len(set(seqs)), "latencies": latencies, "first": first, "last": last}


def summarize(instance_id: int, lines: int, clients: list[dict[str, Any]], sampler: StoredSampler) -> dict:
    from apps.jobs.models import LogCursor, LogLine

    total = LogCursor.objects.get(instance_id=instance_id).last_seq
    printed = LogLine.objects.filter(instance_id=instance_id, stream="stdout").count()
    stored_s = (sampler.done_at - sampler.first_at) if sampler.done_at and sampler.first_at else None
    delivered = []
    missing = duplicates = 0
    for client in clients:  # every seq of a client is one of the instance's 1..total
        missing += total - client["unique"]
        duplicates += client["count"] - client["unique"]
        if client["first"] and client["last"] and client["last"] > client["first"]:
            delivered.append(client["count"] / (client["last"] - client["first"]))
    latencies = [value for client in clients for value in client["latencies"]]
    return {
        "instance": instance_id, "lines_printed": lines, "stdout_lines_stored": printed, "lines_stored": total,
        "stored_lines_per_s": round(lines / stored_s) if stored_s else None,
        "viewers": len(clients),
        "delivered_lines_per_s_min": round(min(delivered)) if delivered else None,
        "delivered_lines_per_s_mean": round(sum(delivered) / len(delivered)) if delivered else None,
        "latency_ms": dist_ms(latencies),
        "missing": missing, "duplicates": duplicates,
    }


def build_report(scenarios: dict[str, Any]) -> Report:
    report = Report()
    for name, result in scenarios.items():
        if "error" in result:
            report.check(name, "error: " + result["error"][:60], None, "", target="no error")
            continue
        latency = result["latency_ms"]
        if name != "paced":
            report.check(name, "lines stored / s", result["stored_lines_per_s"], "lines/s",
                         at_least=TARGETS["stored"], target=f">= {TARGETS['stored']:,}")
            report.check(name, "lines delivered / s per client (min)", result["delivered_lines_per_s_min"],
                         "lines/s", at_least=TARGETS["delivered"], target=f">= {TARGETS['delivered']:,}")
        report.info(name, "print-to-receipt latency p50", latency["p50"], "ms")
        report.check(name, "print-to-receipt latency p99", latency["p99"], "ms", at_most=TARGETS["p99_ms"],
                     target=f"<= {TARGETS['p99_ms']} ms")
        report.check(name, f"lines missed + duplicated ({result['viewers']} clients)",
                     result["missing"] + result["duplicates"], "", at_most=0, target="0")
        report.info(name, "stdout lines stored", result["stdout_lines_stored"], "")
    return report


if __name__ == "__main__":
    sys.exit(main())
