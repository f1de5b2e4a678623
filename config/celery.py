import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("opsflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _database_connections(**kwargs: object) -> None:
    """Celery's Django fixup would close the connection around every task (a new Postgres
    connection per engine step); with CELERY_DB_REUSE_MAX set it keeps them, and Django's
    own rules (CONN_MAX_AGE, health checks, broken connections) decide here instead."""
    from django.db import close_old_connections

    close_old_connections()
