"""Seeds PostgreSQL for `make bench` (bench/seed/): the issue's figures times `--scale`."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from bench.seed import database
from bench.seed.figures import Figures
from bench.seed.seeder import seed


class Command(BaseCommand):
    help = (
        "Fill a PostgreSQL database for the benchmark: at scale 1.0, 100,000 patients, 152,000 "
        "companions, 100,000 referrals, 80,000 returnees, 10,000 batches with 151,000 manifest "
        "lines, 1,000,000 events and 200,000 notifications. A database seeded before (at any "
        "scale) is dropped and seeded anew; one holding other data is refused without --reset."
    )

    def add_arguments(self, parser):
        parser.add_argument("--scale", type=float, default=1.0)
        parser.add_argument(
            "--reuse",
            action="store_true",
            help="keep the database as it is if it holds a seed of this scale",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="drop the database even if it holds data the benchmark did not seed",
        )

    def handle(self, *args, scale: float, reuse: bool, reset: bool, **options):
        try:
            figures = Figures.at(scale)
            database.require_postgresql()
            if reuse and database.is_reusable(scale, figures.patients):
                self.stdout.write(f"Reusing the seed at scale {scale}.")
                analyze()
                return
            if database.check_empty_or_bench(reset=reset):
                self.stdout.write("Dropping the database and migrating it anew.")
                database.recreate()
        except (ValueError, database.NotABenchDatabase) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Seeding at scale {scale}: {figures.as_dict()}")
        counts = seed(figures, say=self.stdout.write)
        analyze()
        for label, count in counts.items():
            self.stdout.write(f"  {label}: {count}")


def analyze() -> None:
    """The planner's statistics of every table. COPY leaves none, and autovacuum may be off or
    not come by before the load: PostgreSQL then guesses, and plans as production never would
    (it read 13,000 events to find a manifest's 20 clearance notes: 17 ms instead of 0.2)."""
    with connection.cursor() as cursor:
        # At full scale it may outlast the deployment's statement timeout.
        cursor.execute("SET statement_timeout = 0")
        cursor.execute("ANALYZE")
