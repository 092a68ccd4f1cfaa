import secrets
import urllib.parse

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from casetracker.choices import ChoiceLabels
from casetracker.constraints import max_length_check


class NotificationChannel(models.TextChoices):
    INBOX = "inbox", _("inbox")
    EMAIL = "email", _("email")
    SMS = "sms", _("SMS")
    WEBHOOK = "webhook", _("webhook")


class NotificationStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")


# Delivery cuts longer errors to this (a provider's answer could be of any size).
LAST_ERROR_MAX_LENGTH = 2000

# urllib would also open ftp: URLs; partners are reached over HTTP(S) only.
http_url = URLValidator(schemes=["http", "https"])


class NotificationQuerySet(models.QuerySet):
    def visible_to(self, user) -> "NotificationQuerySet":
        from casetracker.accounts.roles import Role, user_role

        role = user_role(user)
        if role in (Role.COORDINATOR, Role.ADMIN):
            return self
        if role is Role.ANONYMOUS:
            return self.none()
        return self.filter(recipient=user)


def default_attempt_limit() -> int:
    return settings.NOTIFICATION_MAX_ATTEMPTS


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


class WebhookSubscriptionQuerySet(models.QuerySet):
    def subscribed_to(self, event_type: str) -> list["WebhookSubscription"]:
        # A JSON list is matched in Python: `contains` on JSON is not available on SQLite.
        return [s for s in self.filter(is_active=True) if event_type in s.event_types]


class WebhookSubscription(models.Model):
    """A partner system that receives signed JSON for the event types it subscribed to."""

    name = models.CharField(max_length=100, unique=True, verbose_name=_("name"))
    url = models.URLField(max_length=500, validators=[http_url], verbose_name=_("URL"))
    secret = models.CharField(
        max_length=100,
        default=new_webhook_secret,
        help_text=_("Shared with the partner; signs every request (HMAC-SHA256)."),
        verbose_name=_("signing secret"),
    )
    event_types = models.JSONField(
        default=list, blank=True, verbose_name=_("event types"), help_text=_("e.g. batch.cancel")
    )
    is_active = models.BooleanField(default=True, verbose_name=_("active"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    objects = WebhookSubscriptionQuerySet.as_manager()

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        from .audiences import EVENT_TYPES

        if "@" in (urllib.parse.urlsplit(self.url or "").netloc):
            # It would be sent in clear and shown in logs: partners check the signature instead.
            raise ValidationError({"url": "no user name or password in the URL"})

        if not isinstance(self.event_types, list) or not all(
            isinstance(t, str) for t in self.event_types
        ):
            raise ValidationError({"event_types": "must be a list of event type names"})
        unknown = sorted(set(self.event_types) - set(EVENT_TYPES))
        if unknown:
            raise ValidationError(
                {"event_types": f"unknown event types {unknown}; use some of {list(EVENT_TYPES)}"}
            )


class Notification(ChoiceLabels, models.Model):
    """Outbox row: written in the transaction of the event, delivered by a task after commit."""

    event = models.ForeignKey(
        "audit.Event",
        on_delete=models.PROTECT,
        related_name="notifications",
        verbose_name=_("event"),
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="notifications",
        verbose_name=_("recipient"),
    )
    address = models.CharField(
        max_length=500,
        blank=True,
        help_text="email address, phone number or endpoint",
        verbose_name=_("address"),
    )
    subscription = models.ForeignKey(
        WebhookSubscription,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="notifications",
        verbose_name=_("webhook subscription"),
    )
    # References only (case references, batch codes): what SMS and webhook texts may carry.
    payload = models.JSONField(default=dict, blank=True, verbose_name=_("payload"))
    channel = models.CharField(
        max_length=10, choices=NotificationChannel.choices, verbose_name=_("channel")
    )
    language = models.CharField(max_length=5, default="en", verbose_name=_("language"))
    status = models.CharField(
        max_length=10,
        choices=NotificationStatus.choices,
        default=NotificationStatus.PENDING,
        verbose_name=_("status"),
    )
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    # Raised by a manual retry from the admin: the row gets a fresh set of attempts.
    attempt_limit = models.PositiveSmallIntegerField(
        default=default_attempt_limit, verbose_name=_("attempt limit")
    )
    # When the next attempt is due: the sweeper re-queues pending rows long past it.
    next_attempt_at = models.DateTimeField(default=timezone.now, verbose_name=_("next attempt at"))
    last_error = models.TextField(
        max_length=LAST_ERROR_MAX_LENGTH, blank=True, verbose_name=_("last error")
    )
    idempotency_key = models.CharField(
        max_length=100, unique=True, verbose_name=_("idempotency key")
    )
    created_at = models.DateTimeField(
        default=timezone.now, db_index=True, verbose_name=_("created at")
    )
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))
    provider_message_id = models.CharField(
        max_length=200, blank=True, verbose_name=_("provider message id")
    )
    read_at = models.DateTimeField(null=True, blank=True, verbose_name=_("read at"))

    objects = NotificationQuerySet.as_manager()

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["status", "next_attempt_at"]),
            # A user's inbox, newest first, and its count (the inbox page and its pages).
            models.Index(
                fields=["recipient", "created_at", "id"],
                name="notification_inbox",
                condition=Q(channel=NotificationChannel.INBOX),
            ),
            # The unread count in every page's header: read from the index alone.
            models.Index(
                fields=["recipient"],
                name="notification_unread_inbox",
                condition=Q(channel=NotificationChannel.INBOX, read_at__isnull=True),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel__in=NotificationChannel.values),
                name="notification_channel_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=NotificationStatus.values),
                name="notification_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status=NotificationStatus.SENT) | Q(sent_at__isnull=False),
                name="notification_sent_has_time",
            ),
            max_length_check(
                "last_error", LAST_ERROR_MAX_LENGTH, name="notification_last_error_length"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} #{self.pk} ({self.status})"
