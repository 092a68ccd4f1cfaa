"""The inbox badge and the undelivered-notifications alert, on every page and in the admin."""

from django.utils.functional import SimpleLazyObject

from casetracker.accounts.roles import Role, user_role

from .models import Notification, NotificationChannel, NotificationStatus


def notifications(request) -> dict:
    user = getattr(request, "user", None)
    role = user_role(user)
    if role is Role.ANONYMOUS:
        return {}
    # Lazy: a page that shows neither pays no query.
    return {
        "inbox_unread": SimpleLazyObject(
            lambda: Notification.objects.filter(
                recipient=user, channel=NotificationChannel.INBOX, read_at__isnull=True
            ).count()
        ),
        "undelivered_count": SimpleLazyObject(
            lambda: (
                Notification.objects.filter(status=NotificationStatus.FAILED).count()
                if role in (Role.COORDINATOR, Role.ADMIN)
                else 0
            )
        ),
    }
