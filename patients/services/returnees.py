"""Returnees: registering one, moving them between statuses, and a withdrawal."""

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from casetracker.audit.models import Action, SubjectType
from casetracker.audit.services import record_event
from casetracker.errors import TransitionRefused, check_transition

from ..models import Returnee, ReturneeStatus
from ..occurred import person_occurred_at, registration_occurred_at
from ..states import RETURNEE_TRANSITIONS
from .common import _assign
from .duplicates import _refuse_duplicate

RETURNEE_EDITABLE = (
    "name_latin",
    "name_arabic",
    "national_id",
    "date_of_birth",
    "sex",
    "phone",
    "left_on",
)


@transaction.atomic
def returnee_register(*, actor, occurred_at: datetime | None = None, **data: Any) -> Returnee:
    """Register a person to come back. Only people who left after the war began may return.
    `occurred_at`, when they registered (default now; checked as for `patient_register`), is
    their `registered_at`."""
    occurred_at = registration_occurred_at(occurred_at)
    returnee = Returnee()
    if occurred_at is not None:
        returnee.registered_at = occurred_at
    _assign(returnee, data, RETURNEE_EDITABLE)
    returnee.full_clean()
    _refuse_duplicate(returnee, actor=actor)
    returnee.save()
    record_event(
        subject_type=SubjectType.RETURNEE,
        subject_ref=returnee.reference,
        action=Action.REGISTER,
        to_state=returnee.status,
        actor=actor,
        occurred_at=returnee.registered_at,
    )
    return returnee


def returnee_move(*, returnee: Returnee, to: str) -> str:
    what = _("returnee %(ref)s") % {"ref": returnee.reference}
    check_transition(RETURNEE_TRANSITIONS, returnee.status, to, what)
    old = returnee.status
    returnee.status = to
    returnee.save(update_fields=["status"])
    return old


@transaction.atomic
def returnee_withdraw(
    *, returnee: Returnee, actor, reason_text: str = "", occurred_at: datetime | None = None
) -> Returnee:
    """Record that a waiting returnee no longer wants to come back; `occurred_at` as
    `patient_set_status`."""
    returnee = Returnee.objects.select_for_update().get(pk=returnee.pk)
    if returnee.status == ReturneeStatus.SCHEDULED:
        raise TransitionRefused(
            _("returnee %(ref)s is in an open batch: remove them from it first")
            % {"ref": returnee.reference}
        )
    occurred_at = person_occurred_at(returnee, occurred_at)
    old = returnee_move(returnee=returnee, to=ReturneeStatus.WITHDRAWN)
    record_event(
        subject_type=SubjectType.RETURNEE,
        subject_ref=returnee.reference,
        action=Action.STATUS_CHANGE,
        from_state=old,
        to_state=returnee.status,
        actor=actor,
        reason_text=reason_text,
        occurred_at=occurred_at,
    )
    return returnee
