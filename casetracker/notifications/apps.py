import logging

from django.apps import AppConfig
from django.conf import settings
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)


class NotificationsConfig(AppConfig):
    name = "casetracker.notifications"
    label = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from casetracker.audit.vocabulary import register_states

        from . import audiences  # noqa: F401  (registers the settings check)
        from .models import NotificationStatus

        register_states(NotificationStatus.choices)

        if settings.CELERY_TASK_ALWAYS_EAGER:
            logger.info(
                "REDIS_URL is not set: Celery runs in eager mode, notifications are delivered "
                "in the web process right after each commit."
            )
        if not settings.SMS_PROVIDER_URL:
            logger.info("SMS_PROVIDER_URL is not set: no SMS notifications are written.")
