"""The periods the reports are asked for, in local dates, and the local days they count."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.utils import timezone


@dataclass(frozen=True)
class Period:
    """Inclusive dates; either end may be open."""

    start: date | None = None
    end: date | None = None

    def days(self) -> list[date]:
        if self.start is None or self.end is None:
            raise ValueError("a closed period is needed to list its days")
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]


def _days_between(start: datetime, end: datetime) -> int:
    """Whole local days, as a person counts them: registered Monday, died Wednesday: 2."""
    return (timezone.localdate(end) - timezone.localdate(start)).days


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))
