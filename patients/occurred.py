"""When a registration, a death or a withdrawal occurred, as far as the record allows.

A registration's time is the person's place in the queue: it may be backdated, but only by
`REGISTRATION_BACKDATE_DAYS` (`registration_occurred_at`).

A death or a withdrawal may not precede the latest step of the person's record.

A death recorded late must not be placed before something that still happened to the person
alive: the batch step that sent them back to the queue, a clearance decision about them. The
record would then show an impossible order (deceased, then sent back to "waiting").

Nothing here imports `batches` (DESIGN section 5): the person's manifest lines are read through
the ORM relation `lines`, the batch events by their audit subject."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from casetracker.audit.models import (
    ACCESS_ACTIONS,
    ASIDE_ACTIONS,
    OCCURRED,
    Action,
    Event,
    SubjectType,
)
from casetracker.audit.occurred import checked_occurred_at

from .models import Patient, Returnee

# The batch step that ends a manifest line, by the line's end reason (the stored values of
# `batches.models.EndReason`, not imported): refused at vetting ends it when the batch is
# cleared, a cancellation when it is cancelled, the crossing's outcome when it crosses. Later
# steps of that batch no longer concern the person.
ENDED_BY = {"rejected": Action.CLEAR, "cancelled": Action.CANCEL, "completed": Action.CROSS}

# Events that are no steps of the person's record: reads; later statements and redactions;
# people added to or taken off a draft (recorded "now" whatever day is being recorded, as for a
# batch's own steps: `batches.services.common.batch_occurred_at`); and what is typed in about
# the case when it is typed (details, companions, referrals, readiness): a nurse's tick this
# morning must not stop a death last night from being recorded on its day.
NOT_STEPS = (
    *ACCESS_ACTIONS,
    *ASIDE_ACTIONS,
    Action.ADD_MEMBER,
    Action.REMOVE_MEMBER,
    Action.UPDATE,
    Action.COMPANION_ADD,
    Action.CREATE,
    Action.REFERRAL_DECISION,
    Action.READINESS_UPDATE,
)


def _reference(person: Patient | Returnee) -> str:
    return person.case_reference if isinstance(person, Patient) else person.reference


def latest_step(person: Patient | Returnee) -> tuple[datetime, str]:
    """When the latest step of a patient's or a returnee's record occurred, and what it was
    (words for a message): their registration, the events about them (a clearance decision),
    and the batch step that ended each manifest line they were on (cleared, cancelled,
    crossed)."""
    reference = _reference(person)
    ended_lines = Q()
    for end_reason, action in ENDED_BY.items():
        codes = person.lines.filter(is_open=False, end_reason=end_reason).values("batch__code")
        ended_lines |= Q(subject_type=SubjectType.BATCH, action=action, subject_ref__in=codes)
    event = (
        Event.objects.filter(
            Q(subject_ref=reference)
            | Q(subject_type=SubjectType.MEMBER, details__person=reference)
            | ended_lines
        )
        .exclude(action__in=NOT_STEPS)
        .annotate(when=OCCURRED)
        .order_by("-when", "-id")
        .first()
    )
    if event is None or event.when <= person.registered_at:
        return person.registered_at, _("the registration of %(ref)s") % {"ref": reference}
    names = {"ref": reference, "action": event.get_action_display(), "code": event.batch_ref}
    if event.batch_ref:
        what = _("the latest step of %(ref)s: %(action)s, batch %(code)s") % names
    else:
        what = _("the latest step of %(ref)s: %(action)s") % names
    return event.when, what


def person_occurred_at(person: Patient | Returnee, occurred_at: datetime | None) -> datetime | None:
    """`occurred_at` of a death or a withdrawal of a (locked) person, checked: not in the
    future and not before the latest step of their record (`latest_step`). None is now."""
    if occurred_at is None:
        return None
    follows, what = latest_step(person)
    return checked_occurred_at(occurred_at, follows=follows, follows_what=what)


def registration_occurred_at(occurred_at: datetime | None) -> datetime | None:
    """`occurred_at` of a registration, checked: not in the future, and at most
    `REGISTRATION_BACKDATE_DAYS` days before now (the stated time is the person's place in the
    queue: a registration typed in late keeps its place, one typed in much later would jump
    ahead of people who waited). None is now."""
    occurred_at = checked_occurred_at(occurred_at)
    if occurred_at is None:
        return None
    days = settings.REGISTRATION_BACKDATE_DAYS
    if occurred_at < timezone.now() - timedelta(days=days):
        when = formats.date_format(timezone.localtime(occurred_at), "Y-m-d H:i")
        raise ValidationError(
            {
                "occurred_at": ngettext(
                    "%(when)s is more than %(days)d day ago: a registration may be recorded "
                    "at most %(days)d day after it happened (its time is the place in the queue)",
                    "%(when)s is more than %(days)d days ago: a registration may be recorded "
                    "at most %(days)d days after it happened (its time is the place in the queue)",
                    days,
                )
                % {"when": when, "days": days}
            }
        )
    return occurred_at
