from django.core.management.base import BaseCommand

from casetracker.accounts.models import FacilityKind, Governorate
from casetracker.accounts.services import facility_create
from casetracker.commands import run_service


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
        facility = run_service(
            facility_create,
            code=options["code"],
            name_en=options["name_en"],
            name_ar=options["name_ar"],
            kind=options["kind"],
            governorate=options["governorate"],
            is_active=not options["inactive"],
        )
        self.stdout.write(
            self.style.SUCCESS(f"Created facility {facility.code} ({facility.name_en}).")
        )
