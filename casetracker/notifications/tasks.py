"""Delivery tasks: they take ids, re-read and lock the row, and deliver at most once."""

import logging

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from casetracker.audit.context import Channel, audit_context

from .channels import CHANNELS
from .models import Notification, NotificationStatus

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


@shared_task(bind=True, max_retries=MAX_ATTEMPTS - 1, acks_late=True)
def deliver_notification(self, notification_id: int) -> str:
    with audit_context(channel=Channel.WORKER), transaction.atomic():
        notification = (
            # Lock this row only: the event is shared by every notification of the transition.
            Notification.objects.select_for_update(of=("self",))
            .select_related("event")
            .filter(pk=notification_id)
            .first()
        )
        if notification is None:
            return "missing"
        if notification.status != NotificationStatus.PENDING:
            return notification.status
        notification.attempts += 1
        try:
            CHANNELS[notification.channel](notification)
        except Exception as exc:
            notification.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            final = notification.attempts >= MAX_ATTEMPTS
            if final:
                notification.status = NotificationStatus.FAILED
            notification.save(update_fields=["attempts", "last_error", "status"])
            logger.warning(
                "notification %s attempt %s failed: %s",
                notification_id,
                notification.attempts,
                notification.last_error,
            )
            if final:
                return NotificationStatus.FAILED
            retry_after = 2**notification.attempts * 5
        else:
            notification.status = NotificationStatus.SENT
            notification.sent_at = timezone.now()
            notification.last_error = ""
            notification.save(update_fields=["attempts", "status", "sent_at", "last_error"])
            return NotificationStatus.SENT
    # Outside the transaction, so the attempt count above is committed before the retry.
    raise self.retry(countdown=retry_after)
