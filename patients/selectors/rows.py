"""One case as the queue and the ward show it: its referral, its readiness, its companions and
how long it has waited, read without further queries."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from django.utils import timezone

from ..eligibility import has_adult_guardian
from ..models import Patient, Readiness, Referral, ReferralStatus
from .queue import registered_late


@dataclass(frozen=True)
class ReferralState:
    """The referral that matters for a batch: valid (with its expiry), else pending, expired,
    rejected or none."""

    state: str  # "valid", "pending", "expired", "rejected", "none"
    expires_on: date | None = None


def referral_state(referrals: Iterable[Referral], on: date) -> ReferralState:
    referrals = list(referrals)
    usable = [r for r in referrals if r.is_valid_on(on)]
    if usable:
        # The one lasting longest (no expiry date lasts forever).
        best = max(usable, key=lambda r: r.expires_on or date.max)
        return ReferralState("valid", best.expires_on)
    # An approved referral issued after `on` is not usable yet: it reads as one still waiting.
    if any(
        r.status == ReferralStatus.PENDING
        or (r.status == ReferralStatus.APPROVED and r.issued_on > on)
        for r in referrals
    ):
        return ReferralState("pending")
    lapsed = [r for r in referrals if r.status in (ReferralStatus.EXPIRED, ReferralStatus.APPROVED)]
    if lapsed:
        ended = [r.expires_on for r in lapsed if r.expires_on]
        return ReferralState("expired", max(ended) if ended else None)
    if referrals:
        return ReferralState("rejected")
    return ReferralState("none")


def readiness_of(patient: Patient) -> Readiness:
    """The case's readiness row, or an unsaved one with nothing reported (no query: joined)."""
    try:
        readiness = patient.readiness
    except Readiness.DoesNotExist:
        readiness = None
    return readiness if readiness is not None else Readiness(patient=patient)


@dataclass
class QueueRow:
    """One case as the queue and the ward show it (never the diagnosis)."""

    patient: Patient
    place: int | None
    age: int
    is_child: bool
    mobility: list[str]
    readiness: Readiness
    missing: list[str]  # translated labels of the items not reported yet
    referral: ReferralState
    companions: int
    has_guardian: bool
    waiting_days: int
    registered_late: bool = False  # recorded more than a day after the time it states
    facility_name: str = ""  # in the language of the page: set by the view

    @property
    def ready(self) -> bool:
        return not self.missing

    @property
    def needs_guardian(self) -> bool:
        return self.is_child and not self.has_guardian


def queue_row(patient: Patient, *, on: date, place: int | None = None) -> QueueRow:
    """Build a row from a case read through `with_queue_columns` (no further query)."""
    companions = list(patient.companions.all())
    readiness = readiness_of(patient)
    missing = readiness.missing(with_companions=bool(companions))
    return QueueRow(
        patient=patient,
        place=place,
        age=patient.age_on(on),
        is_child=patient.is_child_on(on),
        mobility=patient.mobility_needs(),
        readiness=readiness,
        missing=[Readiness.label(flag) for flag in missing],
        referral=referral_state(patient.referrals.all(), on),
        companions=len(companions),
        has_guardian=has_adult_guardian(companions, on),
        waiting_days=(on - timezone.localdate(patient.registered_at)).days,
        registered_late=registered_late(patient),
    )


def queue_rows(
    patients: Sequence[Patient], *, on: date, places: dict[int, int] | None = None
) -> list[QueueRow]:
    places = places or {}
    return [queue_row(p, on=on, place=places.get(p.pk)) for p in patients]
