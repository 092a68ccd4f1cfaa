import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from batches.services.crossings import crossing_create
from casetracker.commands import run_service


def _time(text: str) -> dt.time:
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{text!r} is not a time such as 08:00") from None


class Command(BaseCommand):
    help = "Add a border crossing: its code, batch code prefix, names and daily hours (open)."

    def add_arguments(self, parser):
        parser.add_argument("code", help="lower-case letters, digits and dashes: kerem-shalom")
        parser.add_argument("--prefix", required=True, help="starts its batch codes: KSH")
        parser.add_argument("--name-en", required=True, help="the name in English")
        parser.add_argument("--name-ar", required=True, help="the name in Arabic")
        parser.add_argument("--opens", type=_time, help="daily opening time, e.g. 08:00")
        parser.add_argument("--closes", type=_time, help="daily closing time, e.g. 15:00")
        parser.add_argument("--note", default="", help="e.g. where the route goes on to")

    def handle(self, *args, **options):
        crossing = run_service(
            crossing_create,
            code=options["code"],
            prefix=options["prefix"],
            name_en=options["name_en"],
            name_ar=options["name_ar"],
            opens_at=options["opens"],
            closes_at=options["closes"],
            note=options["note"],
        )
        self.stdout.write(
            self.style.SUCCESS(f"Created crossing {crossing.code} ({crossing.prefix}, open).")
        )
