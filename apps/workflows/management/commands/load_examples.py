from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import Organization
from apps.core.errors import ApplicationError
from apps.workflows.services import examples_load


class Command(BaseCommand):
    help = "Load the bundled example workflows into an organization, published (existing names are kept)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--org", required=True, help="The organization's slug.")

    def handle(self, *args, **options) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organization with slug '{options['org']}'.")
        try:
            definitions = examples_load(organization=organization)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        for definition in definitions:
            self.stdout.write(f"{definition.pk}\t{definition.name}")
