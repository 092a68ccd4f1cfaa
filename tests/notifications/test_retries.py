"""Retries: backoff with jitter, the attempt limit, at-most-once delivery, the manual retry, the
sweeper that re-queues overdue rows, and a broker outage that must never undo a transition."""

import logging
from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from batches.services import batch_add_patient, batch_cancel
from casetracker.audit.services import record_event
from casetracker.notifications import channels, tasks
from casetracker.notifications.errors import DeliveryError
from casetracker.notifications.models import Notification
from casetracker.notifications.services import enqueue_delivery, notification_retry, notify
from tests import factories
from tests.service_helpers import events_since, mark, notifications_since, the_event_since


def attempt_once(notification_id):
    """One attempt as a worker runs it: see `attempt_once` in test_channels.py. `.apply()` would
    be eager and retry inline at once; calling the task object runs its body with a non-eager
    request, so a failure gets a real backoff and `self.retry()` raises `Retry`."""
    with pytest.raises(Retry):
        tasks.deliver_notification(notification_id)


def deliver(notification_id):
    return tasks.deliver_notification.apply(args=[notification_id]).get()


def write_rows(*users, action="prepare"):
    """An event and its outbox rows, as a batch service writes them (pending: no commit)."""
    with transaction.atomic():
        event = record_event(
            subject_type="batch",
            subject_ref="RAF-TEST-1",
            batch_ref="RAF-TEST-1",
            action=action,
            actor=None,
        )
        return notify(event=event, users=users)


@pytest.fixture
def inbox(db):
    """One pending inbox row (its recipient has no email address)."""
    [row] = write_rows(factories.UserFactory(email=""))
    assert (row.channel, row.status, row.attempts) == ("inbox", "pending", 0)
    return row


@pytest.fixture
def channel(monkeypatch):
    """Replaces the inbox channel: `channel.fail_with` lists what the next calls raise."""

    class Channel:
        calls = 0
        fail_with: list = []

        def __call__(self, notification):
            self.calls += 1
            if self.fail_with:
                raise self.fail_with.pop(0)
            return f"stub-{self.calls}"

    stub = Channel()
    stub.fail_with = []
    monkeypatch.setitem(channels.CHANNELS, "inbox", stub)
    return stub


@pytest.fixture
def queued(monkeypatch):
    """The notification ids handed to the broker (nothing is delivered)."""
    ids = []
    monkeypatch.setattr(
        tasks.deliver_notification,
        "delay",
        lambda notification_id, attempts_made: ids.append(notification_id),
    )
    return ids


def set_row(row, **fields):
    """Test setup: put a row in a given state directly."""
    Notification.objects.filter(pk=row.pk).update(**fields)
    row.refresh_from_db()
    return row


# --- Backoff --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failed", "ceiling"), [(0, 10), (1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (12, 100)]
)
def test_backoff_seconds_between_half_and_all_of_the_ceiling(settings, failed, ceiling):
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 10
    settings.NOTIFICATION_RETRY_MAX_SECONDS = 100

    waits = [tasks.backoff_seconds(failed) for _ in range(300)]

    assert all(ceiling / 2 <= w <= ceiling for w in waits)
    # Jitter: the waits spread over the range instead of all landing on one value.
    assert min(waits) < ceiling * 0.6
    assert max(waits) > ceiling * 0.9


def test_backoff_seconds_passes_the_exact_bounds(settings, monkeypatch):
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 30
    settings.NOTIFICATION_RETRY_MAX_SECONDS = 1800
    monkeypatch.setattr(tasks.random, "uniform", lambda low, high: (low, high))

    assert tasks.backoff_seconds(1) == (15, 30)
    assert tasks.backoff_seconds(4) == (120, 240)
    assert tasks.backoff_seconds(7) == (900, 1800)  # 30 * 64 = 1920, capped


def test_deliver_notification_failure_waits_for_the_backoff(settings, inbox, channel):
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 60
    channel.fail_with = [DeliveryError("provider down")]
    before = timezone.now()

    attempt_once(inbox.pk)

    inbox.refresh_from_db()
    assert (inbox.status, inbox.attempts) == ("pending", 1)
    assert inbox.last_error == "DeliveryError: provider down"
    wait = (inbox.next_attempt_at - before).total_seconds()
    assert 30 <= wait <= 61


# --- Attempt limit --------------------------------------------------------------------------


def test_deliver_notification_last_attempt_fails_the_row(inbox, channel):
    set_row(inbox, attempts=2, attempt_limit=3, last_error="DeliveryError: earlier")
    channel.fail_with = [DeliveryError("still down")]

    assert tasks.deliver_notification(inbox.pk) == "failed"  # no Retry raised: final

    inbox.refresh_from_db()
    assert (inbox.status, inbox.attempts, inbox.sent_at) == ("failed", 3, None)
    assert inbox.last_error == "DeliveryError: still down"


def test_deliver_notification_bug_on_the_last_attempt_fails_the_row_and_the_task(inbox, channel):
    set_row(inbox, attempts=2, attempt_limit=3)
    channel.fail_with = [RuntimeError("bug in a channel")]

    # The error is not swallowed: the task fails (Celery records it), after the row was
    # marked failed in its own committed transaction.
    with pytest.raises(RuntimeError, match="bug in a channel"):
        tasks.deliver_notification(inbox.pk)

    inbox.refresh_from_db()
    assert (inbox.status, inbox.attempts) == ("failed", 3)
    assert inbox.last_error == "RuntimeError: bug in a channel"


def test_deliver_notification_eager_retries_inline_up_to_the_limit(settings, db, channel):
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    [row] = write_rows(factories.UserFactory(email=""))
    assert row.attempt_limit == 3
    channel.fail_with = [DeliveryError(f"down {n}") for n in (1, 2, 3, 4)]

    tasks.deliver_notification.apply(args=[row.pk])

    row.refresh_from_db()
    assert (row.status, row.attempts) == ("failed", 3)
    assert row.last_error == "DeliveryError: down 3"
    assert channel.calls == 3


def test_deliver_notification_eager_retry_succeeds_after_a_failure(inbox, channel):
    channel.fail_with = [DeliveryError("blip")]

    tasks.deliver_notification.apply(args=[inbox.pk])

    inbox.refresh_from_db()
    assert (inbox.status, inbox.attempts, inbox.provider_message_id) == ("sent", 2, "stub-2")
    assert inbox.last_error == "DeliveryError: blip"  # the history of the first attempt stays


def test_deliver_notification_unexpected_exception_is_an_attempt(inbox, channel, caplog):
    channel.fail_with = [RuntimeError("bug in a channel")]

    with caplog.at_level(logging.INFO, logger="casetracker.notifications.tasks"):
        attempt_once(inbox.pk)

    inbox.refresh_from_db()
    assert (inbox.status, inbox.attempts) == ("pending", 1)
    assert inbox.last_error == "RuntimeError: bug in a channel"
    assert inbox.next_attempt_at > timezone.now()
    [record] = [r for r in caplog.records if "bug in a channel" in r.getMessage()]
    assert record.exc_info is not None  # a bug keeps its traceback in the log


# --- At most once ---------------------------------------------------------------------------


def test_deliver_notification_stale_copy_changes_nothing(inbox, channel):
    # A copy queued when the row had 1 attempt; a later attempt was made since (its retry is
    # scheduled): this copy must not add an early one.
    later = timezone.now() + timedelta(seconds=30)
    set_row(inbox, attempts=2, next_attempt_at=later, last_error="DeliveryError: x")

    assert tasks.deliver_notification.apply(args=[inbox.pk, 1]).get() == "stale"

    inbox.refresh_from_db()
    assert (inbox.status, inbox.attempts, inbox.last_error) == ("pending", 2, "DeliveryError: x")
    assert inbox.next_attempt_at == later
    assert channel.calls == 0


def test_deliver_notification_copy_with_the_current_count_is_delivered(inbox, channel):
    # Clocks play no part: a row "due" in an hour by the web server's clock is still delivered.
    set_row(inbox, attempts=2, next_attempt_at=timezone.now() + timedelta(hours=1))

    assert tasks.deliver_notification.apply(args=[inbox.pk, 2]).get() == "sent"

    assert channel.calls == 1


def test_deliver_notification_retry_carries_the_new_count(inbox, channel, monkeypatch):
    channel.fail_with = [DeliveryError("down")]
    retries = []

    def retry(**options):
        retries.append(options)
        return Retry()

    monkeypatch.setattr(tasks.deliver_notification, "retry", retry)

    with pytest.raises(Retry):
        tasks.deliver_notification(inbox.pk, 0)

    # The retry is queued as "after 1 attempt", so a copy queued at 0 is stale from now on.
    [options] = retries
    assert options["args"] == (inbox.pk, 1)
    assert options["countdown"] > 0
    assert tasks.deliver_notification.apply(args=[inbox.pk, 0]).get() == "stale"


def test_deliver_notification_sent_row_is_never_sent_again(inbox, channel):
    assert deliver(inbox.pk) == "sent"
    assert deliver(inbox.pk) == "sent"

    inbox.refresh_from_db()
    assert (inbox.status, inbox.attempts, inbox.provider_message_id) == ("sent", 1, "stub-1")
    assert channel.calls == 1


def test_deliver_notification_failed_row_is_left_alone(inbox, channel):
    set_row(inbox, status="failed", attempts=6, last_error="DeliveryError: gave up")

    assert deliver(inbox.pk) == "failed"

    inbox.refresh_from_db()
    assert (inbox.attempts, inbox.last_error) == (6, "DeliveryError: gave up")
    assert channel.calls == 0


# --- Manual retry ---------------------------------------------------------------------------


def test_notification_retry_gives_a_failed_row_fresh_attempts(
    settings, inbox, coordinator, queued, django_capture_on_commit_callbacks
):
    settings.NOTIFICATION_MAX_ATTEMPTS = 4
    set_row(inbox, status="failed", attempts=6, attempt_limit=6, last_error="DeliveryError: x")
    since = mark()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notification_retry(notification=inbox, actor=coordinator)
        assert queued == []

    inbox.refresh_from_db()
    assert (inbox.status, inbox.attempts, inbox.attempt_limit) == ("pending", 6, 10)
    assert abs(inbox.next_attempt_at - timezone.now()) < timedelta(seconds=5)
    assert notifications_since(since) == []  # the same row, not a new one
    # Who queued it again is on the audit log.
    event = the_event_since(since)
    assert (event.subject_type, event.subject_ref, event.action) == (
        "notification",
        f"notification-{inbox.pk}",
        "retry_delivery",
    )
    assert (event.from_state, event.to_state, event.actor) == ("failed", "pending", coordinator)
    assert event.batch_ref == inbox.event.batch_ref
    assert event.details == {"channel": "inbox", "event": inbox.event_id, "attempts": 6}
    assert queued == []
    assert len(callbacks) == 1

    callbacks[0]()

    assert queued == [inbox.pk]


def test_notification_retry_then_delivers(inbox, coordinator, channel):
    set_row(inbox, status="failed", attempts=6, attempt_limit=6)
    notification_retry(notification=inbox, actor=coordinator)

    assert deliver(inbox.pk) == "sent"

    inbox.refresh_from_db()
    assert (inbox.status, inbox.attempts) == ("sent", 7)


@pytest.mark.parametrize("status", ["pending", "sent"])
def test_notification_retry_refuses_a_row_that_did_not_fail(
    inbox, coordinator, queued, status, django_capture_on_commit_callbacks
):
    fields = {"status": status, "attempts": 1}
    if status == "sent":
        fields["sent_at"] = timezone.now()
    set_row(inbox, **fields)
    before = Notification.objects.filter(pk=inbox.pk).values().get()
    since = mark()

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(ValidationError) as info,
    ):
        notification_retry(notification=inbox, actor=coordinator)

    assert set(info.value.message_dict) == {"status"}
    assert status in info.value.message_dict["status"][0]
    assert Notification.objects.filter(pk=inbox.pk).values().get() == before
    assert events_since(since) == []
    assert callbacks == []
    assert queued == []


# --- Sweeper --------------------------------------------------------------------------------


@pytest.fixture
def rows(db):
    users = [factories.UserFactory(email="") for _ in range(5)]
    return write_rows(*users)


def test_sweep_pending_notifications_queues_only_overdue_pending_rows(settings, rows, queued):
    settings.NOTIFICATION_SWEEP_AFTER_SECONDS = 120
    now = timezone.now()
    overdue, recent, waiting, sent, failed = rows
    set_row(overdue, next_attempt_at=now - timedelta(seconds=300))
    set_row(recent, next_attempt_at=now - timedelta(seconds=60))
    set_row(waiting, next_attempt_at=now + timedelta(seconds=600), attempts=2)
    set_row(sent, status="sent", sent_at=now, next_attempt_at=now - timedelta(hours=1))
    set_row(failed, status="failed", next_attempt_at=now - timedelta(hours=1))
    before = {n.pk: n.next_attempt_at for n in rows}

    assert tasks.sweep_pending_notifications() == 1

    assert queued == [overdue.pk]
    overdue.refresh_from_db()
    assert overdue.status == "pending"
    assert now <= overdue.next_attempt_at <= timezone.now()
    for row in (recent, waiting, sent, failed):
        row.refresh_from_db()
        assert row.next_attempt_at == before[row.pk], row.channel
    assert Notification.objects.filter(status="pending").count() == 3


def test_sweep_pending_notifications_counts_every_queued_row(settings, rows, queued):
    settings.NOTIFICATION_SWEEP_AFTER_SECONDS = 120
    old = timezone.now() - timedelta(minutes=10)
    for row in rows:
        set_row(row, next_attempt_at=old)

    assert tasks.sweep_pending_notifications() == len(rows)

    assert sorted(queued) == sorted(n.pk for n in rows)
    # Just queued: the next sweep leaves them to their tasks.
    assert tasks.sweep_pending_notifications() == 0
    assert len(queued) == len(rows)


def test_sweep_pending_notifications_oldest_first_within_a_batch(
    settings, rows, queued, monkeypatch
):
    settings.NOTIFICATION_SWEEP_AFTER_SECONDS = 120
    monkeypatch.setattr(tasks, "SWEEP_BATCH", 2)
    now = timezone.now()
    for minutes, row in zip([5, 50, 10, 40, 20], rows, strict=True):
        set_row(row, next_attempt_at=now - timedelta(minutes=minutes))

    assert tasks.sweep_pending_notifications() == 2

    assert queued == [rows[1].pk, rows[3].pk]


def test_sweep_pending_notifications_nothing_overdue(settings, rows, queued):
    settings.NOTIFICATION_SWEEP_AFTER_SECONDS = 120

    assert tasks.sweep_pending_notifications() == 0

    assert queued == []


# --- Broker outage --------------------------------------------------------------------------


@pytest.fixture
def broker_down(monkeypatch):
    """`delay` raises as kombu does when Redis is unreachable; `broker_down` lists the tries."""
    tries = []

    def delay(notification_id, attempts_made):
        tries.append(notification_id)
        raise OperationalError("Error 111 connecting to localhost:6379. Connection refused.")

    monkeypatch.setattr(tasks.deliver_notification, "delay", delay)
    return tries


def test_enqueue_delivery_broker_down_returns_zero_and_warns(rows, broker_down, caplog):
    ids = [n.pk for n in rows]

    with caplog.at_level(logging.WARNING, logger="casetracker.notifications.services"):
        assert enqueue_delivery([(pk, 0) for pk in ids]) == 0

    assert broker_down == ids[:1]  # it stops at the first failure
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "broker unreachable" in record.getMessage()
    assert "5 notification(s) left pending" in record.getMessage()
    assert set(Notification.objects.values_list("status", flat=True)) == {"pending"}


def test_enqueue_delivery_broker_lost_midway_returns_the_number_queued(rows, monkeypatch, caplog):
    sent = []

    def delay(notification_id, attempts_made):
        if len(sent) == 2:
            raise OperationalError("connection lost")
        sent.append(notification_id)

    monkeypatch.setattr(tasks.deliver_notification, "delay", delay)

    with caplog.at_level(logging.WARNING, logger="casetracker.notifications.services"):
        assert enqueue_delivery([(n.pk, 0) for n in rows]) == 2

    assert sent == [rows[0].pk, rows[1].pk]
    assert "3 notification(s) left pending" in caplog.text


def test_enqueue_delivery_broker_down_during_a_cancel_keeps_the_cancel(
    facility,
    quota,
    coordinator,
    nurse,
    auditor,
    ready_patient,
    broker_down,
    caplog,
    django_capture_on_commit_callbacks,
):
    batch = factories.BatchFactory(staging_facility=facility)
    batch_add_patient(batch=batch, patient=ready_patient(), actor=coordinator)
    since = mark()

    with (
        caplog.at_level(logging.WARNING),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        batch_cancel(
            batch=batch,
            actor=coordinator,
            reason_code="weather",
            reason_text="storm",
            source="internal",
        )

    batch.refresh_from_db()
    assert batch.status == "cancelled"
    event = the_event_since(since)
    assert (event.action, event.from_state, event.to_state) == ("cancel", "draft", "cancelled")
    rows = notifications_since(since)
    assert {n.recipient_id for n in rows} == {coordinator.pk, nurse.pk, auditor.pk}
    assert {(n.event_id, n.status, n.attempts) for n in rows} == {(event.pk, "pending", 0)}
    assert len(callbacks) == 1
    assert len(broker_down) == 1
    messages = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert (
        "casetracker.notifications.services",
        logging.WARNING,
        f"broker unreachable (Error 111 connecting to localhost:6379. Connection refused.): "
        f"{len(rows)} notification(s) left pending for the sweeper",
    ) in messages
    # The warning is the only trace: no "Error calling ... in on_commit()" from a robust hook.
    assert [m for m in messages if m[1] >= logging.ERROR] == []


def test_sweep_pending_notifications_broker_down_leaves_rows_pending(settings, rows, broker_down):
    settings.NOTIFICATION_SWEEP_AFTER_SECONDS = 120
    for row in rows:
        set_row(row, next_attempt_at=timezone.now() - timedelta(minutes=10))

    assert tasks.sweep_pending_notifications() == 0

    assert set(Notification.objects.values_list("status", flat=True)) == {"pending"}
    assert len(broker_down) == 1
