"""What every app's Celery tasks share: the options DESIGN §3 requires of a task, and one
Redis client per process for the hints kept beside the broker (de-duplication keys,
delivery counts)."""

from __future__ import annotations

from functools import cache

import redis
from django.conf import settings

# acks_late + reject_on_worker_lost: a task whose worker dies is delivered again (the
# engine counts such deliveries itself); results are never read.
TASK_OPTIONS = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


@cache
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)
