"""The outbox end to end, with a real Celery worker on the real Redis broker: what a committed
transition wrote is delivered, once per row, and a rolled-back transition sends the worker
nothing at all (DESIGN sections 4 and 7: notifications are sent after commit)."""

import threading
import time

import pytest
from celery import signals
from django.conf import settings
from django.db import transaction

from batches import services
from casetracker.audit.models import Action, Event
from casetracker.notifications.models import Notification, NotificationStatus
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


class ReceivedTasks:
    """Notification ids of the delivery tasks the worker received, in order."""

    def __init__(self):
        self.ids: list[int] = []
        self._lock = threading.Lock()

    def __call__(self, sender=None, request=None, **kwargs):
        if request is not None and request.name.endswith(".deliver_notification"):
            with self._lock:
                self.ids.append(request.args[0])


@pytest.fixture
def received(celery_worker):
    log = ReceivedTasks()
    signals.task_received.connect(log, weak=False)
    yield log
    signals.task_received.disconnect(log)


@pytest.fixture
def draft(coordinator, facility, quota, ready_patient):
    batch = services.batch_create(
        actor=coordinator, direction="exit", planned_date=quota.date, staging_facility=facility
    )
    services.batch_add_patient(batch=batch, patient=ready_patient(), actor=coordinator)
    return batch


def _all_sent(event: Event) -> bool:
    rows = Notification.objects.filter(event=event)
    return rows.exists() and not rows.exclude(status=NotificationStatus.SENT).exists()


def test_celery_delivery_worker_sends_every_row_of_a_committed_cancel(
    received, draft, coordinator, nurse, auditor, mailoutbox
):
    assert settings.EMAIL_BACKEND == "django.core.mail.backends.locmem.EmailBackend"
    services.batch_cancel(
        batch=draft,
        actor=coordinator,
        reason_code="no_reason_given",
        reason_text="Relayed by WHO at the last minute; teams stood ready.",
        source="who",
    )
    event = Event.objects.get(subject_ref=draft.code, action=Action.CANCEL)
    rows = Notification.objects.filter(event=event)
    # Coordinators, the staging facility's staff and, for a cancellation, the auditors.
    assert {(n.recipient.username, n.channel) for n in rows} == {
        (user.username, channel)
        for user in (coordinator, nurse, auditor)
        for channel in ("inbox", "email")
    }
    wait_for(lambda: _all_sent(event), what="every cancel notification to be sent")

    for row in Notification.objects.filter(event=event):
        assert (row.attempts, row.last_error) == (1, "")
        assert row.sent_at is not None
    assert sorted(received.ids) == sorted(rows.values_list("pk", flat=True)), "one task per row"
    wait_for(lambda: len(mailoutbox) == 3, what="three emails")
    emails = {m.to[0]: m for m in mailoutbox}
    assert set(emails) == {u.email for u in (coordinator, nurse, auditor)}
    for row in rows.filter(channel="email"):
        message = emails[row.address]
        assert message.extra_headers["X-Idempotency-Key"] == row.idempotency_key
        assert draft.code in message.subject
        assert "Relayed by WHO at the last minute" in message.body


def test_celery_delivery_rolled_back_transition_sends_nothing(
    received, draft, coordinator, nurse, mailoutbox
):
    with pytest.raises(RuntimeError, match="after the service"), transaction.atomic():
        services.batch_prepare(batch=draft, actor=coordinator)
        # The rows exist inside the transaction...
        assert Notification.objects.filter(event__action=Action.PREPARE).exists()
        raise RuntimeError("the request failed after the service ran")
    # ...and are gone with it, and nothing was queued for them.
    draft.refresh_from_db()
    assert draft.status == "draft"
    assert not Event.objects.filter(action=Action.PREPARE).exists()
    assert not Notification.objects.exists()
    time.sleep(1)
    assert received.ids == []
    assert mailoutbox == []

    # The worker is alive and the queue is first in, first out: once a transition committed
    # afterwards is delivered, anything queued by the rolled-back one would have arrived too.
    services.batch_prepare(batch=draft, actor=coordinator)
    event = Event.objects.get(action=Action.PREPARE)
    wait_for(lambda: _all_sent(event), what="the committed prepare notifications")
    assert sorted(received.ids) == sorted(
        Notification.objects.filter(event=event).values_list("pk", flat=True)
    )
    assert sorted(m.to[0] for m in mailoutbox) == sorted([coordinator.email, nurse.email])
