"""Delivery tasks: they take ids, re-read and lock the row, and deliver at most once."""

import logging
import random
from datetime import timedelta

from celery import Task, shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from casetracker import health
from casetracker.audit.context import Channel, audit_context
from casetracker.logging import describe_exception

from .channels import CHANNELS
from .errors import DeliveryError, PermanentDeliveryError
from .models import (
    LAST_ERROR_MAX_LENGTH,
    Notification,
    NotificationChannel,
    NotificationStatus,
)

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500
# A provider's message id is its own business: whatever it answers must fit the column.
PROVIDER_ID_MAX_LENGTH = Notification._meta.get_field("provider_message_id").max_length


def backoff_seconds(failed_attempts: int) -> float:
    """Exponential backoff with jitter: between half and all of base * 2**(n-1), capped."""
    ceiling = min(
        settings.NOTIFICATION_RETRY_MAX_SECONDS,
        settings.NOTIFICATION_RETRY_BASE_SECONDS * 2 ** max(failed_attempts - 1, 0),
    )
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 (spreading retries, not secrecy)


@shared_task(bind=True, max_retries=None, acks_late=True)
def deliver_notification(self, notification_id: int, attempts_made: int | None = None) -> str:
    """Deliver one outbox row. `attempts_made` is the row's attempt count when this task was
    queued: a copy queued before a later attempt (the sweeper's, next to a scheduled retry) is
    stale and does nothing. Counts, not clocks: web, beat and worker clocks may differ."""
    return _deliver(self, notification_id, attempts_made)


# The slow channels' deliveries: the same work, under names that CELERY_TASK_ROUTES sends to
# queues of their own (queues.py). A retry goes back to the queue the task came from.
@shared_task(bind=True, max_retries=None, acks_late=True)
def deliver_sms_notification(self, notification_id: int, attempts_made: int | None = None) -> str:
    return _deliver(self, notification_id, attempts_made)


@shared_task(bind=True, max_retries=None, acks_late=True)
def deliver_webhook_notification(
    self, notification_id: int, attempts_made: int | None = None
) -> str:
    return _deliver(self, notification_id, attempts_made)


def delivery_task(channel: str) -> Task:
    """The task that delivers a row of this channel."""
    return {
        NotificationChannel.SMS: deliver_sms_notification,
        NotificationChannel.WEBHOOK: deliver_webhook_notification,
    }.get(channel, deliver_notification)


def _deliver(task: Task, notification_id: int, attempts_made: int | None) -> str:
    retry_after = failure = None
    with audit_context(channel=Channel.WORKER), transaction.atomic():
        notification = (
            # Lock this row only: the event is shared by every notification of the transition.
            # A second copy of this task waits here, then finds the row sent.
            Notification.objects.select_for_update(of=("self",))
            .select_related("event", "subscription")
            .filter(pk=notification_id)
            .first()
        )
        if notification is None:
            return "missing"
        if notification.status != NotificationStatus.PENDING:
            return notification.status
        if attempts_made is not None and notification.attempts != attempts_made:
            return "stale"
        notification.attempts += 1
        try:
            provider_id = CHANNELS[notification.channel](notification)
        # Any failure, a bug included, is first recorded on the row as an attempt (raising
        # here would roll that back and the row would be tried forever); it is raised again
        # below, once the attempt is committed.
        except Exception as exc:
            failure = exc
            # Run inline (no broker, `make run`), a retry runs at once: there is no beat
            # to sweep a row left waiting, and the web request is holding on.
            retry_after = _record_failure(notification, exc, wait=not task.request.is_eager)
        else:
            notification.status = NotificationStatus.SENT
            notification.sent_at = timezone.now()
            notification.provider_message_id = (provider_id or "")[:PROVIDER_ID_MAX_LENGTH]
            notification.save(
                update_fields=["attempts", "status", "sent_at", "provider_message_id"]
            )
    # Outside the transaction, so the attempt above is committed first.
    if retry_after is not None:
        raise task.retry(args=(notification_id, notification.attempts), countdown=retry_after)
    if failure is not None and not isinstance(failure, DeliveryError):
        raise failure  # a bug: the row is failed, and the task fails for all to see
    return notification.status


def _record_failure(notification: Notification, exc: Exception, *, wait: bool) -> float | None:
    """Write the failed attempt; return the backoff before the next one, or None if final."""
    # Shown in the admin and the API and logged: a database error's detail quotes row values.
    notification.last_error = describe_exception(exc)[:LAST_ERROR_MAX_LENGTH]
    final = (
        isinstance(exc, PermanentDeliveryError)
        or notification.attempts >= notification.attempt_limit
    )
    retry_after = None if final else (backoff_seconds(notification.attempts) if wait else 0.0)
    if final:
        notification.status = NotificationStatus.FAILED
    else:
        notification.next_attempt_at = timezone.now() + timedelta(seconds=retry_after)
    notification.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
    log = logger.warning if final or isinstance(exc, PermanentDeliveryError) else logger.info
    log(
        "notification %s (%s) attempt %s/%s failed%s: %s",
        notification.pk,
        notification.channel,
        notification.attempts,
        notification.attempt_limit,
        ", giving up" if final else "",
        notification.last_error,
        # A failure the channel did not foresee is a bug: keep its traceback.
        exc_info=not isinstance(exc, DeliveryError),
    )
    return retry_after


@shared_task(acks_late=True)
def sweep_pending_notifications() -> int:
    """Queue again the pending rows whose attempt is long overdue (run by Celery beat).

    Their task was never published (broker down at commit) or was lost; a duplicate is harmless
    because delivery locks the row and checks its status. Returns how many were queued."""
    from .services import enqueue_delivery

    now = timezone.now()
    overdue = now - timedelta(seconds=settings.NOTIFICATION_SWEEP_AFTER_SECONDS)
    with transaction.atomic():
        # A row a delivery holds is being attempted right now: skip it rather than wait and
        # then undo the backoff that delivery is about to schedule.
        rows = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(status=NotificationStatus.PENDING, next_attempt_at__lte=overdue)
            .order_by("next_attempt_at")
            .values_list("pk", "attempts")[:SWEEP_BATCH]
        )
        # Due now, so the next sweep leaves them alone while these tasks run.
        Notification.objects.filter(pk__in=[pk for pk, _ in rows]).update(next_attempt_at=now)
    # For /readyz: the sweeper ran, whatever it found.
    health.record_beat(health.SWEEPER)
    if not rows:
        return 0
    queued = enqueue_delivery(rows)
    logger.warning("sweeper queued %d overdue pending notification(s) again", queued)
    return queued
