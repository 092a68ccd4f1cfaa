"""`manage.py sweep_notifications`: the sweeper run by hand (cron, or right after an outage)."""

from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone

from casetracker.notifications.models import Notification
from tests.service_helpers import notify_event


def test_sweep_notifications_command_delivers_overdue_pending_rows(nurse, capsys, settings):
    rows = notify_event([nurse])  # never queued: the test does not commit
    overdue = timezone.now() - timedelta(seconds=settings.NOTIFICATION_SWEEP_AFTER_SECONDS + 5)
    Notification.objects.filter(pk__in=[n.pk for n in rows]).update(next_attempt_at=overdue)
    fresh = notify_event([nurse], action="prepare")  # due just now: left for its own task

    call_command("sweep_notifications")

    assert capsys.readouterr().out.strip() == f"{len(rows)} pending notification(s) queued again."
    # Celery is eager in the tests: the queued rows were delivered on the spot.
    assert {n.status for n in Notification.objects.filter(pk__in=[n.pk for n in rows])} == {"sent"}
    assert {n.status for n in Notification.objects.filter(pk__in=[n.pk for n in fresh])} == {
        "pending"
    }
