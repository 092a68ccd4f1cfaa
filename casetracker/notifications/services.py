"""Writing outbox rows, scheduling their delivery after commit, retrying and reading them."""

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import KombuError

from casetracker.audit.models import Action, Event, SubjectType
from casetracker.audit.services import record_event

from .audiences import event_type
from .models import Notification, NotificationChannel, NotificationStatus, WebhookSubscription
from .queues import SLOW_CHANNELS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmsContact:
    """A person who gave a phone number and consented to SMS, and the case the text is about."""

    phone: str
    language: str
    case_reference: str


def notify(
    *,
    event: Event,
    users: Iterable = (),
    sms: Iterable[SmsContact] = (),
    cases: Iterable[str] = (),
) -> list[Notification]:
    """Write the outbox rows of one event: inbox and email for each active user, one SMS per
    contact (when an SMS provider is configured), one webhook per partner subscribed to the
    event type, which carries the case references in `cases`.

    Runs in the caller's transaction: the rows exist only if the event does. Delivery is queued
    after commit; if the broker is down then, the rows stay `pending` for the sweeper."""
    rows = []
    for user in {u.pk: u for u in users if u.is_active}.values():
        rows.append(_row(event, NotificationChannel.INBOX, f"user-{user.pk}", recipient=user))
        if user.email:
            rows.append(
                _row(
                    event,
                    NotificationChannel.EMAIL,
                    f"user-{user.pk}",
                    recipient=user,
                    address=user.email,
                )
            )
    if settings.SMS_PROVIDER_URL:
        for contact in {c.case_reference: c for c in sms if c.phone}.values():
            rows.append(
                _row(
                    event,
                    NotificationChannel.SMS,
                    f"case-{contact.case_reference}",
                    address=contact.phone,
                    language=contact.language,
                    payload={"case": contact.case_reference},
                )
            )
    case_list = sorted(set(cases))
    for subscription in WebhookSubscription.objects.subscribed_to(
        event_type(event.subject_type, event.action)
    ):
        rows.append(
            _row(
                event,
                NotificationChannel.WEBHOOK,
                f"subscription-{subscription.pk}",
                address=subscription.url,
                subscription=subscription,
                payload={"cases": case_list},
            )
        )
    # PostgreSQL and SQLite (3.35+) return the new ids from a bulk insert.
    created = Notification.objects.bulk_create(rows)
    _enqueue_after_commit([(n.pk, 0) for n in created])
    return created


def _row(event: Event, channel: str, who: str, *, language: str = "", **fields) -> Notification:
    recipient = fields.get("recipient")
    return Notification(
        event=event,
        channel=channel,
        language=language or (recipient.preferred_language if recipient else "en"),
        idempotency_key=f"event-{event.pk}-{channel}-{who}",
        **fields,
    )


def _enqueue_after_commit(rows: list[tuple[int, int]]) -> None:
    if rows:
        transaction.on_commit(lambda: enqueue_delivery(rows), robust=True)


def enqueue_delivery(rows: Iterable[tuple[int, int]]) -> int:
    """Queue one delivery task per (notification id, attempts made so far); returns how many
    were queued.

    When the broker cannot be reached the rest stay `pending`: the sweeper queues them again,
    so the caller (a coordinator's request that already committed) never sees the outage."""
    from .tasks import delivery_task

    rows = list(rows)
    # The slow channels' rows go to queues of their own (queues.py): one query tells which.
    slow = dict(
        Notification.objects.filter(
            pk__in=[notification_id for notification_id, _ in rows],
            channel__in=SLOW_CHANNELS,
        ).values_list("pk", "channel")
    )
    for done, (notification_id, attempts_made) in enumerate(rows):
        try:
            delivery_task(slow.get(notification_id, "")).delay(notification_id, attempts_made)
        except (KombuError, OSError) as exc:
            logger.warning(
                "broker unreachable (%s): %d notification(s) left pending for the sweeper",
                exc,
                len(rows) - done,
            )
            return done
    return len(rows)


def notification_retry(*, notification: Notification, actor) -> Notification:
    """Give a failed notification a fresh set of attempts and queue it again; the audit log
    records who did it."""
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("event")
            .get(pk=notification.pk)
        )
        if notification.status != NotificationStatus.FAILED:
            problem = f"only a failed notification is retried, not a {notification.status} one"
            raise ValidationError({"status": problem})
        notification.status = NotificationStatus.PENDING
        notification.attempt_limit = notification.attempts + settings.NOTIFICATION_MAX_ATTEMPTS
        notification.next_attempt_at = timezone.now()
        notification.save(update_fields=["status", "attempt_limit", "next_attempt_at"])
        record_event(
            subject_type=SubjectType.NOTIFICATION,
            subject_ref=f"notification-{notification.pk}",
            batch_ref=notification.event.batch_ref,
            subject_facility_id=notification.event.subject_facility_id,
            action=Action.RETRY_DELIVERY,
            from_state=NotificationStatus.FAILED,
            to_state=NotificationStatus.PENDING,
            actor=actor,
            details={
                "channel": notification.channel,
                "event": notification.event_id,
                "attempts": notification.attempts,
            },
        )
        _enqueue_after_commit([(notification.pk, notification.attempts)])
    return notification


def notification_mark_read(*, notification: Notification, user) -> Notification:
    if notification.recipient_id != user.pk:
        raise PermissionError("only the recipient marks a notification read")
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def notifications_mark_all_read(*, user) -> int:
    """Mark every unread inbox notification of `user` read; returns how many."""
    unread = Notification.objects.filter(
        recipient=user, channel=NotificationChannel.INBOX, read_at__isnull=True
    )
    return unread.update(read_at=timezone.now())
