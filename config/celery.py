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
    """Celery's Django fixup would close the connection around every task; with
    CELERY_DB_REUSE_MAX set it leaves them to Django's own rules here: on PostgreSQL the
    connection goes back to the process's pool after each task (config/settings.py) and a
    broken one is dropped, so a task never starts on a connection Postgres terminated."""
    from django.db import close_old_connections

    close_old_connections()
