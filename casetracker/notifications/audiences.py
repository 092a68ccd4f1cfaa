"""Who hears of what: the audiences named in `settings.NOTIFICATION_AUDIENCES`, checked at start."""

from enum import StrEnum

from django.conf import settings
from django.core import checks


class Audience(StrEnum):
    COORDINATORS = "coordinators"
    STAGING_STAFF = "staging_staff"
    AUDITORS = "auditors"
    PATIENTS_SMS = "patients_sms"


def audiences_for(action: str) -> frozenset[Audience]:
    return frozenset(Audience(name) for name in settings.NOTIFICATION_AUDIENCES.get(action, ()))


def event_type(subject_type: str, action: str) -> str:
    """The name partners subscribe to: `batch.cancel`, `batch.clear`..."""
    return f"{subject_type}.{action}"


# Only batch transitions and later statements (`batch.statement`, without their text) notify;
# every one of them may be sent to partners.
EVENT_TYPES = tuple(event_type("batch", action) for action in settings.NOTIFICATION_AUDIENCES)


@checks.register()
def check_notification_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    problems = []
    for action, names in settings.NOTIFICATION_AUDIENCES.items():
        unknown = sorted(set(names) - set(Audience))
        if unknown:
            problems.append(
                checks.Error(
                    f"NOTIFICATION_AUDIENCES[{action!r}] names unknown audiences {unknown}",
                    hint=f"use some of {[a.value for a in Audience]}",
                    id="notifications.E001",
                )
            )
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    if visibility <= settings.NOTIFICATION_RETRY_MAX_SECONDS:
        problems.append(
            checks.Error(
                f"the broker visibility timeout ({visibility}s) is not above the longest retry "
                f"backoff ({settings.NOTIFICATION_RETRY_MAX_SECONDS}s): a waiting retry would be "
                "delivered twice",
                hint="raise CELERY_VISIBILITY_TIMEOUT or lower NOTIFICATION_RETRY_MAX_SECONDS",
                id="notifications.E002",
            )
        )
    if settings.NOTIFICATION_MAX_ATTEMPTS < 1:
        problems.append(
            checks.Error("NOTIFICATION_MAX_ATTEMPTS must be at least 1", id="notifications.E003")
        )
    return problems
