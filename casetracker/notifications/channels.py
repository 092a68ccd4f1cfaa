"""Delivery channels behind one interface: `deliver(notification) -> provider message id`."""

from collections.abc import Callable

from django.conf import settings
from django.core.mail import EmailMessage

from .messages import render_event_message
from .models import Notification, NotificationChannel


class DeliveryError(Exception):
    """A delivery attempt failed and may be retried."""


def deliver_inbox(notification: Notification) -> str:
    # The row itself is the inbox entry; marking it sent makes it visible as delivered.
    return f"inbox-{notification.pk}"


def deliver_email(notification: Notification) -> str:
    if not notification.address:
        raise DeliveryError("no email address")
    message = render_event_message(notification.event, notification.language)
    email = EmailMessage(
        subject=message.subject,
        body=message.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.address],
        headers={"X-Idempotency-Key": notification.idempotency_key},
    )
    email.send(fail_silently=False)
    return notification.idempotency_key


CHANNELS: dict[str, Callable[[Notification], str]] = {
    NotificationChannel.INBOX: deliver_inbox,
    NotificationChannel.EMAIL: deliver_email,
}
