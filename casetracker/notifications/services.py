"""Writing outbox rows and scheduling their delivery after commit."""

import logging
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from casetracker.audit.models import Event

from .models import Notification, NotificationChannel

logger = logging.getLogger(__name__)


def notify_users(*, event: Event, users: Iterable) -> list[Notification]:
    """Write an inbox row, and an email row where the user has an address, for each user.

    Runs in the caller's transaction: the rows exist only if the event does. Delivery is queued
    after commit; if the broker is down then, the rows stay `pending` for the sweeper.
    """
    rows = []
    for user in {u.pk: u for u in users if u.is_active}.values():
        rows.append(_row(event, user, NotificationChannel.INBOX, ""))
        if user.email:
            rows.append(_row(event, user, NotificationChannel.EMAIL, user.email))
    # PostgreSQL and SQLite (3.35+) return the new ids from a bulk insert.
    created = Notification.objects.bulk_create(rows)
    ids = [n.pk for n in created]
    if ids:
        transaction.on_commit(lambda: enqueue_delivery(ids), robust=True)
    return created


def _row(event: Event, user, channel: str, address: str) -> Notification:
    return Notification(
        event=event,
        recipient=user,
        address=address,
        channel=channel,
        language=user.preferred_language,
        idempotency_key=f"event-{event.pk}-{channel}-user-{user.pk}",
    )


def enqueue_delivery(notification_ids: Iterable[int]) -> None:
    from .tasks import deliver_notification

    for notification_id in notification_ids:
        deliver_notification.delay(notification_id)


def notification_mark_read(*, notification: Notification, user) -> Notification:
    if notification.recipient_id != user.pk:
        raise PermissionError("only the recipient marks a notification read")
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification
