"""Opsflow settings, driven by the environment (12-factor).

With no environment at all, Opsflow runs embedded: SQLite (WAL) under var/ and a private
Redis on a unix socket started by `manage.py standalone`. Production sets DATABASE_URL
(Postgres) and REDIS_URL.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ

from config import celery_conf
from config.secrets import ENCRYPTION_KEYS_FILE, SECRET_KEY_FILE, load_secret

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

VAR_DIR = Path(env.str("OPSFLOW_VAR_DIR", default=str(BASE_DIR / "var")))
DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = load_secret(env_name="SECRET_KEY", var_dir=VAR_DIR, file_name=SECRET_KEY_FILE, debug=DEBUG)
OPSFLOW_ENCRYPTION_KEYS = [
    key.strip()
    for key in load_secret(
        env_name="OPSFLOW_ENCRYPTION_KEYS", var_dir=VAR_DIR, file_name=ENCRYPTION_KEYS_FILE, debug=DEBUG
    ).replace("\n", ",").split(",")
    if key.strip()
]

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list(
    "CSRF_TRUSTED_ORIGINS", default=["http://127.0.0.1:8000", "http://localhost:8000"]
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "channels",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "apps.core",
    "apps.accounts",
    "apps.audit",
    "apps.inventory",
    "apps.credentials",
    "apps.workflows",
    "apps.engine",
    "apps.jobs",
    "apps.approvals",
    "apps.automation",
    "apps.notifications",
    "apps.portal",
    # Composition root, above every domain app: `manage.py standalone` and its demo data.
    "apps.site",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.portal.context_processors.portal",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------
SQLITE_PATH = VAR_DIR / "opsflow.sqlite3"
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{SQLITE_PATH}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
        }
    )
else:
    # A pool per process (psycopg_pool, Django's own support) bounds the connections a
    # process holds whatever its load: under ASGI every request's sync code runs in a
    # thread of its own, and persistent per-thread connections piled up (70 for 8 busy
    # clients). A request, task or consumer call takes a connection from the pool and
    # gives it back when it ends; one that waits longer than the timeout for a free one
    # gets 503 (apps.core.views). Each process holds at most OPSFLOW_DB_POOL_MAX_SIZE
    # connections: a deployment needs Postgres max_connections >= that times (web +
    # jobs + the engine worker's pool children), plus a few for administration.
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps connections, not Django
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # the pool checks a connection before handing it out
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("OPSFLOW_DB_POOL_MIN_SIZE", default=1),
        "max_size": env.int("OPSFLOW_DB_POOL_MAX_SIZE", default=12),
        "timeout": env.float("OPSFLOW_DB_POOL_TIMEOUT", default=10.0),
        "max_idle": 300.0,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker and Channels layer ----------------------------------------
REDIS_SOCKET = VAR_DIR / "redis.sock"
REDIS_URL = env.str("REDIS_URL", default=f"unix://{REDIS_SOCKET}?db=0")

# Broker, routes and schedule live in config/celery_conf.py, shared with the Django-free
# beat process (config/beat.py).
CELERY_BROKER_URL = celery_conf.kombu_url(REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Leave database connections to config/celery.py (the pool on PostgreSQL), not to the fixup.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1_000_000)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = celery_conf.BROKER_TRANSPORT_OPTIONS
CELERY_TASK_ROUTES = celery_conf.TASK_ROUTES
CELERY_BEAT_SCHEDULE = celery_conf.BEAT_SCHEDULE

# --- Jobs --------------------------------------------------------------------------------
# Drain tasks woken per fan-out step: at most the jobs workers' slots (Procfile: -c 8).
OPSFLOW_JOB_DRAINERS = env.int("OPSFLOW_JOB_DRAINERS", default=8)
OPSFLOW_JOBS_DIR = Path(env.str("OPSFLOW_JOBS_DIR", default=str(VAR_DIR / "jobs")))
# Timeout and kill: SIGTERM to the job's process group, SIGKILL this much later.
OPSFLOW_KILL_GRACE_SECONDS = env.float("OPSFLOW_KILL_GRACE_SECONDS", default=5.0)
# SSH connections a jobs worker process keeps open at most (DESIGN §10), each reused per
# (host, user) for up to 8 sessions.
OPSFLOW_SSH_MAX_CONCURRENCY = env.int("OPSFLOW_SSH_MAX_CONCURRENCY", default=64)
OPSFLOW_LOG_MAX_LINE = env.int("OPSFLOW_LOG_MAX_LINE", default=16384)
OPSFLOW_JOB_LOG_LIMIT_BYTES = env.int("OPSFLOW_JOB_LOG_LIMIT_BYTES", default=10 * 1024 * 1024)
# A live viewer that heard nothing for this long re-reads the statuses (and the last lines)
# from the database: a full channel layer may have dropped the event it waits for.
OPSFLOW_LIVE_RECHECK_SECONDS = env.float("OPSFLOW_LIVE_RECHECK_SECONDS", default=5.0)
# A running job whose worker has not reported for this long failed with WorkerLost.
OPSFLOW_JOB_HEARTBEAT_TIMEOUT = env.int("OPSFLOW_JOB_HEARTBEAT_TIMEOUT", default=60)
# A job still queued this long after it was dispatched failed (no jobs worker took it).
OPSFLOW_JOB_QUEUE_TIMEOUT = env.int("OPSFLOW_JOB_QUEUE_TIMEOUT", default=30 * 60)
# Every jobs worker looks this often for jobs of its machine whose worker process is gone
# (killed, crashed): it stops their processes and ends them (apps.jobs.services.
# jobs_reap_orphans); also once at start-up. 0 turns it off.
OPSFLOW_JOB_REAPER_SECONDS = env.float("OPSFLOW_JOB_REAPER_SECONDS", default=5.0)
# Lost messages (a worker killed with its prefetched task, Redis flushed or restarted):
# an active instance with no progress for this long is advanced again, and a step whose
# queued jobs waited this long with none of them running gets a new drain message. Both
# are idempotent (rows are claimed under locks), so a hint sent for nothing costs a query.
OPSFLOW_STALL_SECONDS = env.float("OPSFLOW_STALL_SECONDS", default=10.0)

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py 8 gives up a read after 5 s by default: exactly as long as
            # channels-redis's blocking receive (BZPOPMIN, 5 s) waits, so an idle consumer
            # would die of a TimeoutError. The socket may wait longer than Redis does.
            "hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
            "prefix": env.str("CHANNELS_PREFIX", default="opsflow"),
        },
    }
}

# --- Auth ------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:dashboard"
LOGOUT_REDIRECT_URL = "portal:login"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
GUARDIAN_RAISE_403 = False

# --- REST API ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_PARSER_CLASSES": [
        "apps.core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "apps.core.schema.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Opsflow API",
    "DESCRIPTION": "Workflow automation control plane for IT operations.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Every status field is named after its model (DESIGN §5 lists them separately).
    "ENUM_NAME_OVERRIDES": {
        "InstanceStatusEnum": "apps.engine.states.InstanceStatus",
        "StepStatusEnum": "apps.engine.states.StepStatus",
        "PauseReasonEnum": "apps.engine.states.PauseReason",
        "JobStatusEnum": "apps.jobs.models.JobStatus",
        "ApprovalStatusEnum": "apps.approvals.models.ApprovalStatus",
        "KillSwitchScopeEnum": "apps.automation.models.KillSwitchScope",
        "KillSwitchStateEnum": "apps.automation.models.KillSwitchState",
    },
}

# --- i18n, static --------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Email (notification steps) -----------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="opsflow@localhost")
# Where links in e-mails and notifications point (approval requests): this site's address.
OPSFLOW_BASE_URL = env.str("OPSFLOW_BASE_URL", default=(CSRF_TRUSTED_ORIGINS or ["http://127.0.0.1:8000"])[0]).rstrip("/")

# --- Logging ---------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # channels-redis reports each message dropped for a full group at INFO; viewers
    # backfill those from the database (apps.engine.consumers).
    # asyncssh logs every connection, channel and auth step at INFO: one jobs worker would
    # write several lines per SSH job.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "channels_redis": {"level": "WARNING"},
                "asyncssh": {"level": "WARNING"}},
}

OPSFLOW_STANDALONE = os.environ.get("OPSFLOW_STANDALONE") == "1"
