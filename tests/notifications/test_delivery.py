"""Delivering outbox rows: the task re-reads the row, delivers it once, in the recipient's
language, and is only queued once the transaction that wrote the row has committed."""

import pytest

from batches.services import batch_add_patient, batch_cancel, batch_prepare
from casetracker.errors import TransitionRefused
from casetracker.notifications import tasks
from casetracker.notifications.models import Notification
from tests import factories
from tests.service_helpers import mark, notifications_since, the_event_since


@pytest.fixture
def batch(facility, quota, coordinator, nurse, ready_patient):
    """A draft at `facility` with one ready patient; the coordinator reads English, the nurse of
    the facility Arabic."""
    batch = factories.BatchFactory(staging_facility=facility)
    batch_add_patient(batch=batch, patient=ready_patient(), actor=coordinator)
    return batch


@pytest.fixture
def prepared(batch, coordinator):
    """The rows written by preparing the batch (still pending: the test never commits)."""
    since = mark()
    batch_prepare(batch=batch, actor=coordinator)
    rows = notifications_since(since)
    assert {(n.channel, n.status) for n in rows} == {("inbox", "pending"), ("email", "pending")}
    return rows


def deliver(notification_id):
    return tasks.deliver_notification.apply(args=[notification_id]).get()


def row(rows, user, channel):
    [match] = [n for n in rows if n.recipient_id == user.pk and n.channel == channel]
    return match


def test_deliver_notification_inbox_is_marked_sent(prepared, coordinator, mailoutbox):
    inbox = row(prepared, coordinator, "inbox")

    assert deliver(inbox.pk) == "sent"

    inbox.refresh_from_db()
    assert (inbox.status, inbox.attempts, inbox.last_error) == ("sent", 1, "")
    assert inbox.sent_at is not None
    assert mailoutbox == []
    # Only that row: the others wait for their own task.
    assert Notification.objects.filter(status="pending").count() == len(prepared) - 1


def test_deliver_notification_email_in_english(prepared, batch, coordinator, mailoutbox):
    email = row(prepared, coordinator, "email")

    assert deliver(email.pk) == "sent"

    email.refresh_from_db()
    assert (email.status, email.attempts) == ("sent", 1)
    [message] = mailoutbox
    assert message.to == ["coordinator@example.org"]
    assert message.subject == f"Batch {batch.code}: prepared"
    assert f"Batch {batch.code} has changed." in message.body
    assert "From: draft" in message.body
    assert message.extra_headers["X-Idempotency-Key"] == email.idempotency_key


def test_deliver_notification_email_in_the_recipients_language(prepared, batch, nurse, mailoutbox):
    email = row(prepared, nurse, "email")
    assert email.language == "ar"

    deliver(email.pk)

    [message] = mailoutbox
    assert message.to == ["nurse@example.org"]
    # Arabic texts come from locale/ar (compiled by `make`): "Batch X: prepared", "has changed".
    assert message.subject.startswith(f"الدفعة {batch.code}")
    assert "Batch" not in message.subject
    assert f"تغيّرت حالة الدفعة {batch.code}" in message.body


def test_deliver_notification_cancel_carries_the_reason(batch, coordinator, auditor, mailoutbox):
    since = mark()
    batch_cancel(
        batch=batch,
        actor=coordinator,
        reason_code="security",
        reason_text="crossing closed at noon",
        source="border_authority",
    )
    event = the_event_since(since)
    email = event.notifications.get(recipient=auditor, channel="email")

    deliver(email.pk)

    [message] = mailoutbox
    assert message.to == [auditor.email]
    assert "crossing closed at noon" in message.body
    assert "security" in message.body


def test_deliver_notification_twice_delivers_once(prepared, coordinator, mailoutbox):
    email = row(prepared, coordinator, "email")

    assert deliver(email.pk) == "sent"
    assert deliver(email.pk) == "sent"

    email.refresh_from_db()
    assert email.attempts == 1
    assert len(mailoutbox) == 1


def test_deliver_notification_missing_row(db, mailoutbox):
    assert deliver(987654321) == "missing"
    assert mailoutbox == []


def test_deliver_notification_permanent_failure_is_not_retried(prepared, coordinator, mailoutbox):
    email = row(prepared, coordinator, "email")
    Notification.objects.filter(pk=email.pk).update(address="")  # setup: a broken row

    tasks.deliver_notification.apply(args=[email.pk])

    email.refresh_from_db()
    assert (email.status, email.attempts) == ("failed", 1)
    assert email.last_error == "PermanentDeliveryError: no email address"
    assert email.sent_at is None
    assert mailoutbox == []


def test_deliver_notification_queued_only_after_commit(
    batch, coordinator, monkeypatch, django_capture_on_commit_callbacks, mailoutbox
):
    queued = []
    monkeypatch.setattr(tasks.deliver_notification, "delay", lambda *args: queued.append(args))
    since = mark()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        batch_prepare(batch=batch, actor=coordinator)

    rows = notifications_since(since)
    assert rows and all(n.status == "pending" for n in rows)
    assert queued == []
    assert len(callbacks) == 1

    callbacks[0]()

    # Ids and the attempts made so far: nothing else travels through the broker.
    assert sorted(queued) == sorted((n.pk, 0) for n in rows)
    assert mailoutbox == []


def test_deliver_notification_end_to_end_after_commit(
    batch, coordinator, monkeypatch, django_capture_on_commit_callbacks, mailoutbox
):
    monkeypatch.setattr(
        tasks.deliver_notification,
        "delay",
        lambda *args: tasks.deliver_notification.apply(args=args),
    )
    since = mark()

    with django_capture_on_commit_callbacks(execute=True):
        batch_prepare(batch=batch, actor=coordinator)
        assert mailoutbox == []  # nothing leaves before the commit

    rows = notifications_since(since)
    assert {n.status for n in Notification.objects.filter(pk__in=[n.pk for n in rows])} == {"sent"}
    assert sorted(m.to[0] for m in mailoutbox) == ["coordinator@example.org", "nurse@example.org"]


def test_deliver_notification_refused_transition_queues_nothing(
    facility, coordinator, nurse, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(tasks.deliver_notification, "delay", lambda *args: queued.append(args))
    empty = factories.BatchFactory(staging_facility=facility)
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(TransitionRefused, match="has no patient"),
    ):
        batch_prepare(batch=empty, actor=coordinator)
    assert callbacks == []
    assert queued == []
    assert not Notification.objects.exists()
