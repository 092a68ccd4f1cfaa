"""When a fact occurred, as the user states it (DESIGN section 5, convention 7).

Coordinators record after the fact when the connection was down: every service that records a
fact takes an optional `occurred_at` and checks it here, the same way for all of them. The
event keeps both times: `occurred_at` (this) and `created_at` (when it was recorded)."""

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils import formats, timezone
from django.utils.translation import gettext as _

# How far ahead of the server's clock a stated time may be: a phone or a laptop whose clock runs
# a few minutes fast must not be refused for saying "now". A time within this margin is taken as
# the recorded time (a fact cannot occur after it is recorded); beyond it, it is refused.
CLOCK_SKEW = timedelta(minutes=5)


def _shown(moment: datetime) -> str:
    return formats.date_format(timezone.localtime(moment), "Y-m-d H:i")


def checked_occurred_at(
    occurred_at: datetime | None, *, follows: datetime | None = None, follows_what: str = ""
) -> datetime | None:
    """`occurred_at` checked: an aware date and time, not in the future (beyond `CLOCK_SKEW`),
    not before `follows` (what this fact follows: the batch's latest event, the person's
    registration), described to the user by `follows_what`. None stays None: the fact occurred
    when it is recorded. Refusals raise a ValidationError naming `occurred_at`."""
    if occurred_at is None:
        return None
    if not isinstance(occurred_at, datetime):
        raise ValidationError({"occurred_at": _("a date and time, such as 2026-02-06T07:40")})
    if timezone.is_naive(occurred_at):
        raise ValidationError(
            {"occurred_at": _("say which time zone the time is in, such as 2026-02-06T07:40+02:00")}
        )
    now = timezone.now()
    if occurred_at > now + CLOCK_SKEW:
        raise ValidationError(
            {
                "occurred_at": _("%(when)s is in the future: record what has already happened")
                % {"when": _shown(occurred_at)}
            }
        )
    occurred_at = min(occurred_at, now)
    if follows is not None and occurred_at < follows:
        raise ValidationError(
            {
                "occurred_at": _("%(when)s is before %(what)s (%(then)s)")
                % {"when": _shown(occurred_at), "what": follows_what, "then": _shown(follows)}
            }
        )
    return occurred_at
