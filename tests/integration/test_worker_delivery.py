"""A real Celery worker on Redis delivers what a committed transition wrote to the outbox, and
nothing for a transition that was rolled back."""

import time

import pytest
from django.db import transaction

from batches.services import batch_add_patient, batch_cancel, batch_prepare
from casetracker.audit.models import Event
from casetracker.notifications.models import Notification
from tests import factories
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def draft(coordinator, nurse, auditor, facility, quota, ready_patient):
    batch = factories.BatchFactory(staging_facility=facility)
    batch_add_patient(batch=batch, patient=ready_patient(), actor=coordinator)
    return batch


def _delivered(event: Event) -> bool:
    rows = Notification.objects.filter(event=event)
    return rows.exists() and not rows.exclude(status="sent").exists()


def test_worker_delivers_every_notification_of_a_committed_transition(
    celery_worker, draft, coordinator, nurse, mailoutbox
):
    batch_prepare(batch=draft, actor=coordinator)
    event = Event.objects.get(subject_ref=draft.code, action="prepare")
    wait_for(lambda: _delivered(event), what="the prepare notifications to be sent")
    rows = Notification.objects.filter(event=event)
    assert {(n.recipient.username, n.channel) for n in rows} == {
        ("coordinator", "inbox"),
        ("coordinator", "email"),
        ("nurse", "inbox"),
        ("nurse", "email"),
    }
    assert all(n.attempts == 1 and n.sent_at for n in rows)
    wait_for(lambda: len(mailoutbox) == 2, what="two emails")
    assert sorted(m.to[0] for m in mailoutbox) == ["coordinator@example.org", "nurse@example.org"]
    assert all(draft.code in m.subject for m in mailoutbox)
    # The nurse reads Arabic: her message is rendered in her language.
    [to_nurse] = [m for m in mailoutbox if m.to == ["nurse@example.org"]]
    assert "الدفعة" in to_nurse.subject


def test_worker_delivers_nothing_for_a_rolled_back_transition(
    celery_worker, draft, coordinator, auditor, mailoutbox
):
    with pytest.raises(RuntimeError), transaction.atomic():
        batch_cancel(
            batch=draft,
            actor=coordinator,
            reason_code="security",
            reason_text="Recorded by mistake.",
            source="internal",
        )
        raise RuntimeError("the coordinator's request failed after the service ran")
    draft.refresh_from_db()
    assert draft.status == "draft"
    assert not Event.objects.filter(action="cancel").exists()
    assert not Notification.objects.exists()
    # The worker is alive: a committed transition afterwards is delivered, and only that one.
    batch_prepare(batch=draft, actor=coordinator)
    event = Event.objects.get(action="prepare")
    wait_for(lambda: _delivered(event), what="the prepare notifications")
    time.sleep(0.5)
    assert Notification.objects.exclude(event=event).count() == 0
    assert len(mailoutbox) == Notification.objects.filter(channel="email").count() == 2
    assert not any("auditor" in m.to[0] for m in mailoutbox)
