"""`manage.py tail <instance_id> [--after N] [--step S] [--host H] [--stream S] [--raw]`

Prints the instance's log lines as they are stored (polling the database by seq, the
source of truth) and exits once the instance has ended: with status 0 if it succeeded,
1 otherwise, so that a script can wait on a run.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.engine.log_export import LogReader, text_pages
from apps.engine.models import WorkflowInstance
from apps.engine.states import InstanceStatus


class Command(BaseCommand):
    help = "Print an instance's log as it grows; exit when the instance has ended."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("instance_id", type=int)
        parser.add_argument("--after", type=int, default=0, help="start after this seq (default: the beginning)")
        parser.add_argument("--step", help="only this step's lines")
        parser.add_argument("--host", help="only this host's lines")
        parser.add_argument("--stream", help="stdout, stderr, system (comma-separated) or errors")
        parser.add_argument("--raw", action="store_true", help="the text alone, without time, step, host, stream")

    def handle(self, *args: Any, **options: Any) -> None:
        instance = WorkflowInstance.objects.filter(pk=options["instance_id"]).first()
        if instance is None:
            raise CommandError(f"Instance {options['instance_id']} does not exist.")
        if options["after"] < 0:
            raise CommandError("--after must be 0 or more.")
        filters = {"step": options["step"], "host": options["host"], "stream": options["stream"]}
        reader = LogReader(instance, after=options["after"], filters=filters, raw=options["raw"])
        for text in text_pages(reader, follow=True):
            self.stdout.write(text, ending="")
            self.stdout.flush()
        instance.refresh_from_db(fields=["status"])
        self.stderr.write(f"Run #{instance.pk} ended: {instance.status}.")
        if instance.status != InstanceStatus.SUCCEEDED:
            sys.exit(1)
