"""The sweeper and a delivery in progress, on PostgreSQL (row locks do nothing on SQLite): the
sweeper skips the row a worker holds, so it neither waits for the provider's answer nor undoes
the backoff the worker is about to write."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from casetracker.audit.services import record_event
from casetracker.notifications import tasks
from casetracker.notifications.models import Notification
from casetracker.notifications.services import notify

pytestmark = pytest.mark.django_db(transaction=True)


def test_sweep_pending_notifications_skips_a_row_being_delivered(
    require_postgres, nurse, coordinator, settings, monkeypatch
):
    queued = []
    monkeypatch.setattr(tasks.deliver_notification, "delay", lambda *args: queued.append(args))
    with transaction.atomic():
        event = record_event(
            subject_type="batch",
            subject_ref="RAF-1",
            batch_ref="RAF-1",
            action="cancel",
            actor=None,
        )
        busy, free = [
            n for n in notify(event=event, users=[nurse, coordinator]) if n.channel == "inbox"
        ]
    queued.clear()  # the after-commit queueing of the new rows
    overdue = timezone.now() - timedelta(seconds=settings.NOTIFICATION_SWEEP_AFTER_SECONDS + 60)
    Notification.objects.filter(pk__in=[busy.pk, free.pk]).update(next_attempt_at=overdue)
    locked, release = threading.Event(), threading.Event()

    def worker_holding_the_row():
        try:
            with transaction.atomic():
                Notification.objects.select_for_update().get(pk=busy.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=worker_holding_the_row)
    holder.start()
    try:
        assert locked.wait(10)
        assert tasks.sweep_pending_notifications() == 1
    finally:
        release.set()
        holder.join(10)

    assert queued == [(free.pk, 0)]
    busy.refresh_from_db()
    free.refresh_from_db()
    assert busy.next_attempt_at == overdue  # untouched: its worker decides what comes next
    assert free.next_attempt_at > overdue
