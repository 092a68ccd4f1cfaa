from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from casetracker.accounts.models import FacilityKind, Governorate
from casetracker.accounts.services import facility_create
from casetracker.audit.context import Channel, audit_context

from .adduser import _format


class Command(BaseCommand):
    help = "Add a facility (hospital, field hospital or staging point) with its two names."

    def add_arguments(self, parser):
        parser.add_argument("code", help="lower-case letters, digits and dashes, e.g. al-amal")
        parser.add_argument("--name-en", required=True, help="the name in English")
        parser.add_argument("--name-ar", required=True, help="the name in Arabic")
        parser.add_argument("--kind", required=True, choices=FacilityKind.values)
        parser.add_argument("--governorate", required=True, choices=Governorate.values)
        parser.add_argument(
            "--inactive", action="store_true", help="recorded, but not offered for new batches"
        )

    def handle(self, *args, **options):
        try:
            # The system's act (no user signed in), through the command channel.
            with audit_context(channel=Channel.COMMAND):
                facility = facility_create(
                    actor=None,
                    code=options["code"],
                    name_en=options["name_en"],
                    name_ar=options["name_ar"],
                    kind=options["kind"],
                    governorate=options["governorate"],
                    is_active=not options["inactive"],
                )
        except ValidationError as exc:
            raise CommandError("; ".join(_format(exc))) from exc
        self.stdout.write(
            self.style.SUCCESS(f"Created facility {facility.code} ({facility.name_en}).")
        )
