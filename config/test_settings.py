"""Settings for the test suite: real Postgres and real Redis on 127.0.0.1 by default."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/opsflow")
# One Redis database per xdist worker, so that each worker's Celery queues and channel
# groups are its own (the Postgres test database is per worker too).
_xdist = os.environ.get("PYTEST_XDIST_WORKER", "")
_redis_db = 9 + (int(_xdist[2:]) + 1 if _xdist.startswith("gw") else 0)
os.environ.setdefault("REDIS_URL", f"redis://127.0.0.1:6379/{_redis_db}")
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
