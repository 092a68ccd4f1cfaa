from django.core.management.base import BaseCommand, CommandError

from casetracker.audit.verify import verify_chain


class Command(BaseCommand):
    help = "Walk the audit log's hash chain; exit non-zero at the first broken link."

    def handle(self, *args, **options):
        report = verify_chain()
        if report.ok:
            self.stdout.write(self.style.SUCCESS(f"Audit log intact: {report.checked} events."))
            return
        where = f"event {report.broken_at}" if report.broken_at else "end of the log"
        raise CommandError(
            f"Audit log broken at {where}: {report.problem} ({report.checked} events verified)"
        )
