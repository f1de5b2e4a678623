"""Driving the raw-Celery baseline (bench/baseline_tasks.py) from the bench process."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime
from typing import Any

from django.db import connection

from bench.engine_bench.report import dist_ms, seconds


class BaselineTimeout(RuntimeError):
    pass


def prepare_table() -> None:
    from bench.baseline_tasks import TABLE_SQL

    with connection.cursor() as cursor:
        cursor.execute(TABLE_SQL)


def run_chains(*, chains: int, hops: int, timeout: float = 300.0) -> dict[str, Any]:
    """Start `chains` chains of `hops` hops at once and wait for the last commit.

    Hop latency: from one hop's commit to the next hop's commit (the first hop: from the
    send). That is a whole durable step: commit, enqueue, broker, worker, UPDATE, commit."""
    from bench.baseline_tasks import hop

    first_id = _next_id()
    ids = list(range(first_id, first_id + chains))
    with connection.cursor() as cursor:
        cursor.executemany("INSERT INTO bench_chain (id) VALUES (%s)", [[i] for i in ids])
    sent = datetime.now(UTC)
    for chain_id in ids:
        hop.delay(chain_id, hops)
    stamps = _wait(ids, hops, timeout)
    latencies: list[float] = []
    for row in stamps:
        points = [sent, *row]
        latencies += [seconds(b - a) for a, b in itertools.pairwise(points)]
    last = max(row[-1] for row in stamps)
    elapsed = seconds(last - sent)
    return {
        "chains": chains,
        "hops_per_chain": hops,
        "hops": chains * hops,
        "elapsed_s": round(elapsed, 3),
        "hops_per_s": round(chains * hops / elapsed, 1),
        "hop_latency_ms": dist_ms(latencies),
    }


def _next_id() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) + 1 FROM bench_chain")
        return cursor.fetchone()[0]


def _wait(ids: list[int], hops: int, timeout: float) -> list[list[datetime]]:
    deadline = time.monotonic() + timeout
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT hops, stamps FROM bench_chain WHERE id = ANY(%s)", [ids])
            rows = cursor.fetchall()
        if all(count >= hops for count, _ in rows):
            return [list(stamps) for _, stamps in rows]
        if time.monotonic() > deadline:
            done = sum(count for count, _ in rows)
            raise BaselineTimeout(f"baseline: {done} of {len(ids) * hops} hops done after {timeout:.0f} s")
        time.sleep(0.05)
