"""Delivery channels behind one interface: `deliver(notification) -> provider message id`.

A channel raises DeliveryError when a later attempt may succeed and PermanentDeliveryError when
it cannot; it passes the notification's idempotency key to the provider, so a task that runs
twice (a worker killed mid-delivery) still gives the recipient one message."""

import json
from collections.abc import Callable
from smtplib import SMTPException

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from . import signing
from .errors import DeliveryError, PermanentDeliveryError
from .http import post_json
from .messages import render_event_message, render_sms, webhook_payload
from .models import Notification, NotificationChannel


def deliver_inbox(notification: Notification) -> str:
    # The row itself is the inbox entry; marking it sent makes it visible as delivered.
    return f"inbox-{notification.pk}"


def deliver_email(notification: Notification) -> str:
    if not notification.address:
        raise PermanentDeliveryError("no email address")
    message = render_event_message(notification.event, notification.language)
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.address],
        headers={"X-Idempotency-Key": notification.idempotency_key},
    )
    email.attach_alternative(message.html, "text/html")
    try:
        email.send(fail_silently=False)
    except (SMTPException, OSError) as exc:
        raise DeliveryError(f"mail server: {_smtp_summary(exc)}") from exc
    return notification.idempotency_key


def _smtp_summary(exc: Exception) -> str:
    """The kind of failure and its SMTP codes, without the addresses a refusal quotes."""
    codes = [code for code, _ in getattr(exc, "recipients", {}).values()]
    code = getattr(exc, "smtp_code", None) or getattr(exc, "errno", None)
    if code:
        codes.append(code)
    return type(exc).__name__ + (f" (code {', '.join(map(str, codes))})" if codes else "")


def deliver_sms(notification: Notification) -> str:
    if not settings.SMS_PROVIDER_URL:
        raise DeliveryError("SMS_PROVIDER_URL is not set")
    body = json.dumps(
        {
            "to": notification.address,
            "from": settings.SMS_SENDER,
            "text": render_sms(notification),
            "reference": notification.idempotency_key,
        },
        ensure_ascii=False,
    ).encode()
    answer = post_json(
        settings.SMS_PROVIDER_URL,
        body,
        {
            "Authorization": f"Bearer {settings.SMS_PROVIDER_TOKEN}",
            "Idempotency-Key": notification.idempotency_key,
        },
    )
    return str(answer.json().get("id", ""))[:200]


def deliver_webhook(notification: Notification) -> str:
    subscription = notification.subscription
    if subscription is None or not subscription.is_active:
        raise PermanentDeliveryError("the webhook subscription is gone or inactive")
    payload = webhook_payload(notification)
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = {
        **signing.signed_headers(subscription.secret, body),
        signing.DELIVERY_HEADER: notification.idempotency_key,
        signing.EVENT_HEADER: payload["type"],
    }
    post_json(subscription.url, body, headers)
    return notification.idempotency_key


CHANNELS: dict[str, Callable[[Notification], str]] = {
    NotificationChannel.INBOX: deliver_inbox,
    NotificationChannel.EMAIL: deliver_email,
    NotificationChannel.SMS: deliver_sms,
    NotificationChannel.WEBHOOK: deliver_webhook,
}
