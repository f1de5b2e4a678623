"""Celery settings that need no Django: the broker, routes and the beat schedule.

`config/settings.py` exposes them as CELERY_* for the workers (which run Django), and
`config/beat.py` uses them directly, so the beat process, which only sends the sweeper
ticks, does not load Django, the ORM and every app (about half its memory).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("OPSFLOW_VAR_DIR") or BASE_DIR / "var")
REDIS_SOCKET = VAR_DIR / "redis.sock"
REDIS_URL = os.environ.get("REDIS_URL") or f"unix://{REDIS_SOCKET}?db=0"


def kombu_url(url: str) -> str:
    """Kombu spells redis-py's unix://PATH?db=N as redis+socket://PATH?virtual_host=N."""
    if not url.startswith("unix://"):
        return url
    parts = urlsplit(url)
    db = parse_qs(parts.query).get("db", ["0"])[0]
    return f"redis+socket://{parts.netloc}{parts.path}?virtual_host={db}"


BROKER_URL = kombu_url(REDIS_URL)
# DESIGN §3: no countdown longer than a few seconds; long waits are timer rows, so a
# one-hour visibility timeout only decides how soon a lost message is redelivered.
BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT") or 3600)}
TASK_ROUTES = {
    "apps.jobs.tasks.jobs_drain": {"queue": "jobs"},
    "apps.jobs.*": {"queue": "engine"},
    "apps.engine.*": {"queue": "engine"},
}
BEAT_SCHEDULE = {
    # DESIGN §3: fires due timers and re-advances stalled instances every <= 2 s.
    "engine-sweep": {"task": "apps.engine.tasks.sweep", "schedule": 2.0, "options": {"expires": 10}},
    "jobs-sweep": {"task": "apps.jobs.tasks.jobs_sweep", "schedule": 3.0, "options": {"expires": 10}},
}
