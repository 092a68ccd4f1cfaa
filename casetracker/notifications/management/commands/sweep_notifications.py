from django.core.management.base import BaseCommand

from casetracker.notifications.tasks import sweep_pending_notifications


class Command(BaseCommand):
    help = (
        "Queue again the notifications still pending long after they were due (what Celery beat "
        "runs every NOTIFICATION_SWEEP_INTERVAL_SECONDS; for cron, or after a broker outage)."
    )

    def handle(self, *args, **options):
        queued = sweep_pending_notifications()
        self.stdout.write(f"{queued} pending notification(s) queued again.")
