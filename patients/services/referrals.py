"""Referrals: recording one, and the decision on it."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from casetracker.audit.models import Action, SubjectType
from casetracker.audit.services import record_event
from casetracker.errors import check_transition

from ..models import Patient, Referral, ReferralStatus
from .checks import clean_new
from .common import _assign, _patient_event, patient_event_fields

REFERRAL_EDITABLE = (
    "number",
    "specialty",
    "referring_facility",
    "destination_country",
    "destination_hospital",
    "issued_on",
    "expires_on",
)


@transaction.atomic
def referral_create(*, patient: Patient, actor, **data: Any) -> Referral:
    referral = new_referral(patient=patient, **data)
    referral.save()
    record_event(**referral_created_event(referral, actor=actor))
    return referral


def new_referral(*, patient: Patient, batched: bool = False, **data: Any) -> Referral:
    """A referral of `patient` to create, checked as `referral_create` checks it (`batched`:
    `checks.clean_new`, for the bulk registration)."""
    referral = Referral(patient=patient)
    _assign(referral, data, REFERRAL_EDITABLE)
    clean_new(referral, batched=batched, parent="patient")
    return referral


def referral_created_event(referral: Referral, *, actor) -> dict[str, Any]:
    return patient_event_fields(
        referral.patient,
        subject_type=SubjectType.REFERRAL,
        action=Action.CREATE,
        actor=actor,
        to_state=referral.status,
        details={"referral_id": referral.pk},
    )


REFERRAL_DECISIONS = {
    ReferralStatus.PENDING: {ReferralStatus.APPROVED, ReferralStatus.REJECTED},
    ReferralStatus.APPROVED: {ReferralStatus.EXPIRED},
    ReferralStatus.REJECTED: set(),
    ReferralStatus.EXPIRED: set(),
}


@transaction.atomic
def referral_decide(*, referral: Referral, status: str, actor) -> Referral:
    """Record the decision on a referral (approved, rejected, or expired)."""
    if status not in ReferralStatus.values:
        raise ValidationError(
            {"status": _("unknown referral status %(status)r") % {"status": status}}
        )
    referral = (
        Referral.objects.select_for_update(of=("self",))
        .select_related("patient")
        .get(pk=referral.pk)
    )
    what = _("referral %(number)s") % {"number": referral.number}
    check_transition(REFERRAL_DECISIONS, referral.status, status, what)
    old, referral.status = referral.status, status
    referral.save(update_fields=["status"])
    _patient_event(
        referral.patient,
        subject_type=SubjectType.REFERRAL,
        action=Action.REFERRAL_DECISION,
        actor=actor,
        from_state=old,
        to_state=status,
        details={"referral_id": referral.pk},
    )
    return referral
