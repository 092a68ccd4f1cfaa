"""The inbox badge and the undelivered-notifications alert, on every page and in the admin."""

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from casetracker.accounts.roles import Role, user_role
from casetracker.accounts.twofactor.admin_site import passed_sign_in

from .models import Notification, NotificationChannel, NotificationStatus


def _once(compute: Callable[[], int]) -> Callable[[], int]:
    """Templates call a callable variable: the count is queried when a page shows it, once.
    (A lazy object would not do: the Arabic plural rule does arithmetic on the count.)"""
    cache: list[int] = []

    def value() -> int:
        if not cache:
            cache.append(compute())
        return cache[0]

    return value


def recent_failures() -> QuerySet:
    """Failed notifications a coordinator should still see: those of the last
    NOTIFICATION_ALERT_DAYS days (the admin lists them all)."""
    since = timezone.now() - timedelta(days=settings.NOTIFICATION_ALERT_DAYS)
    return Notification.objects.filter(status=NotificationStatus.FAILED, created_at__gte=since)


def recent_failures_count(request) -> int:
    """How many there are, counted once per request: the header's alert and the day page show
    the same number."""
    if not hasattr(request, "_recent_failures_count"):
        request._recent_failures_count = recent_failures().count()
    return request._recent_failures_count


def notifications(request) -> dict:
    user = getattr(request, "user", None)
    role = user_role(user)
    # Before the second factor the pages show nothing of the account (not even a count).
    if role is Role.ANONYMOUS or not passed_sign_in(user):
        return {}
    return {
        "inbox_unread": _once(
            lambda: Notification.objects.filter(
                recipient=user, channel=NotificationChannel.INBOX, read_at__isnull=True
            ).count()
        ),
        "undelivered_count": _once(
            lambda: recent_failures_count(request) if role in (Role.COORDINATOR, Role.ADMIN) else 0
        ),
    }
