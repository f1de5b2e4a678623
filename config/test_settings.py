"""Settings for the test suite: real Postgres and real Redis on 127.0.0.1 by default."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/opsflow")
# One Redis database per xdist worker, so that each worker's Celery queues and channel
# groups are its own (the Postgres test database is per worker too). The base URL is
# remembered in the environment the xdist workers inherit from the controlling process.
_base = os.environ.setdefault("OPSFLOW_TEST_REDIS_BASE", os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/9"))
_xdist = os.environ.get("PYTEST_XDIST_WORKER", "")
_prefix, _, _db = _base.rpartition("/")
_offset = int(_xdist[2:]) + 1 if _xdist.startswith("gw") else 0
os.environ["REDIS_URL"] = f"{_prefix}/{int(_db or 0) + _offset}" if _db.isdigit() else _base
os.environ.setdefault("SECRET_KEY", "opsflow-test-secret-key-not-for-production")
# Two keys so that key rotation is exercised; the first one encrypts.
os.environ.setdefault(
    "OPSFLOW_ENCRYPTION_KEYS",
    "5oN0m3Fh2QbLZ0C3nqyGQ9o0Jd1oW6x9u1aR0yqkq8E=,3TjHGmS3cI0hSyoFf3xBHcmHiuGVrbXG0QyFyjvJ8Oc=",
)
os.environ.setdefault("CHANNELS_PREFIX", "opsflow-test")

from config.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# The suite's in-process worker must not reap hand-made job rows whose "worker" is gone;
# tests call jobs_reap_orphans themselves, and the chaos suite runs it for real.
OPSFLOW_JOB_REAPER_SECONDS = 0
