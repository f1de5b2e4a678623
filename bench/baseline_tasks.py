"""The raw-Celery baseline of bench/engine.py: a chain of hops, each one Postgres
UPDATE + commit that then enqueues the next hop. This is the floor of a durable,
Celery-driven step on the machine; Opsflow's own app is not loaded here.

Started by bench/engine.py as `celery -A bench.baseline_tasks worker -Q bench_baseline`
with the same broker (REDIS_URL) and database (DATABASE_URL) as the bench; each hop
appends the commit time to its chain's row, so hop latencies come from the database.
Running this file directly does nothing (`make bench` runs every bench/*.py).
"""

from __future__ import annotations

import os

import psycopg
from celery import Celery

QUEUE = "bench_baseline"

# Not the current app: the bench process also holds Opsflow's app, whose shared tasks
# must keep resolving to it.
app = Celery("bench_baseline", set_as_current=False)
app.conf.update(
    broker_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/12"),
    broker_connection_retry_on_startup=True,
    task_default_queue=QUEUE,
    # The same delivery settings as Opsflow's tasks (config/settings.py).
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_ignore_result=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    accept_content=["json"],
    worker_hijack_root_logger=False,
)

TABLE_SQL = """
DROP TABLE IF EXISTS bench_chain;
CREATE TABLE bench_chain (id integer PRIMARY KEY, hops integer NOT NULL DEFAULT 0,
                          stamps timestamptz[] NOT NULL DEFAULT '{}');
"""
HOP_SQL = "UPDATE bench_chain SET hops = hops + 1, stamps = array_append(stamps, clock_timestamp()) WHERE id = %s"

_connection: psycopg.Connection | None = None


def connection() -> psycopg.Connection:
    """One connection per pool process, opened lazily (after the fork)."""
    global _connection
    if _connection is None or _connection.closed:
        _connection = psycopg.connect(os.environ["DATABASE_URL"])
    return _connection


@app.task(name="bench.baseline.hop")
def hop(chain_id: int, remaining: int) -> None:
    conn = connection()
    with conn.cursor() as cursor:
        cursor.execute(HOP_SQL, [chain_id])
    conn.commit()
    if remaining > 1:
        hop.delay(chain_id, remaining - 1)


if __name__ == "__main__":
    print("bench/baseline_tasks.py holds the baseline's Celery tasks; bench/engine.py runs them.")
