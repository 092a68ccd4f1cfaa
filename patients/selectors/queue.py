"""The waiting queues: the patients in the order the next batch takes them, narrowed by the
coordinator's filters, with each one's place; and the returnees, first registered first."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, Subquery
from django.utils import timezone

from casetracker.audit.models import Action, Event, SubjectType

from ..models import (
    MOBILITY_NEEDS,
    PRIORITY_RANK,
    Companion,
    Patient,
    PatientQuerySet,
    PatientStatus,
    Readiness,
    Referral,
    ReferralStatus,
    Returnee,
    ReturneeQuerySet,
    ReturneeStatus,
)


class ReadinessFilter:
    READY = "ready"
    NOT_READY = "not_ready"


class ReferralFilter:
    VALID = "valid"
    PENDING = "pending"
    NONE = "none"  # none at all, expired or rejected


@dataclass(frozen=True)
class QueueFilters:
    """What the coordinator narrowed the queue to (all optional)."""

    priority: str = ""
    clinical_category: str = ""
    facility_id: int | None = None
    readiness: str = ""  # ReadinessFilter.READY / NOT_READY
    referral: str = ""  # ReferralFilter.*
    child: bool = False
    mobility: str = ""  # "any" or one of MOBILITY_NEEDS

    def any(self) -> bool:
        return any(
            (
                self.priority,
                self.clinical_category,
                self.facility_id,
                self.readiness,
                self.referral,
                self.child,
                self.mobility,
            )
        )


def _adult_cutoff(on: date) -> date:
    """Anyone born after this date is a child on `on` (same rule as `models.age_on`)."""
    try:
        return on.replace(year=on.year - settings.ADULT_AGE)
    except ValueError:  # 29 February, and the year back is not a leap year
        return on.replace(year=on.year - settings.ADULT_AGE, day=28)


def _valid_referral(on: date) -> Exists:
    return Exists(Referral.objects.valid_on(on).filter(patient=OuterRef("pk")))


def _is_ready() -> Exists:
    """Every readiness item reported; companions present only counts when there are some."""
    has_companions = Exists(Companion.objects.filter(patient=OuterRef(OuterRef("pk"))))
    return Exists(
        Readiness.objects.filter(
            patient=OuterRef("pk"),
            fit_to_travel=True,
            documents_ready=True,
            transport_confirmed=True,
        ).filter(Q(companions_present=True) | ~has_companions)
    )


# A registration recorded this long after the time it states is flagged in the queues: its place
# comes from the time it states (`registered_at`), so a name typed in today may stand ahead of
# people who have waited for days, and nobody should be surprised by it.
REGISTERED_LATE_AFTER = timedelta(days=1)


def with_registration_recorded(people):
    """Patients or returnees with `registration_recorded_at`: when their registration was
    recorded (its event's recorded time; None for a person registered without an event)."""
    patients = people.model is Patient
    event = Event.objects.filter(
        subject_type=SubjectType.PATIENT if patients else SubjectType.RETURNEE,
        subject_ref=OuterRef("case_reference" if patients else "reference"),
        action=Action.REGISTER,
    ).order_by("id")
    return people.annotate(registration_recorded_at=Subquery(event.values("created_at")[:1]))


def registered_late(person: Patient | Returnee) -> bool:
    """Whether the person's registration was recorded more than `REGISTERED_LATE_AFTER` after
    the time it states (read through `with_registration_recorded`; no query)."""
    recorded = getattr(person, "registration_recorded_at", None)
    return recorded is not None and recorded - person.registered_at > REGISTERED_LATE_AFTER


def with_queue_columns(patients: PatientQuerySet) -> PatientQuerySet:
    """Everything a queue row shows, in a fixed number of queries whatever the rows: facility
    and readiness joined, referrals and companions prefetched (only the columns used), and
    neither the diagnosis nor the encrypted national ID read (decrypting costs per row)."""
    return (
        with_registration_recorded(patients)
        .select_related("facility", "readiness", "readiness__updated_by")
        .prefetch_related(
            Prefetch(
                "referrals",
                queryset=Referral.objects.only(
                    "id", "patient_id", "status", "issued_on", "expires_on"
                ).order_by("id"),
            ),
            Prefetch(
                "companions",
                # A child's row asks whether an adult guardian travels: the guardian's birth date.
                queryset=Companion.objects.only(
                    "id", "patient_id", "is_guardian", "date_of_birth"
                ).order_by("id"),
            ),
        )
        .defer("diagnosis", "national_id", "national_id_hash", "phone")
    )


def patient_queue(
    user, *, filters: QueueFilters | None = None, on: date | None = None
) -> PatientQuerySet:
    """Waiting cases the user may see, in the order the next batch should take them, narrowed
    by `filters`, with the columns of the queue page."""
    on = on or timezone.localdate()
    filters = filters or QueueFilters()
    patients = Patient.objects.visible_to(user).filter(status=PatientStatus.WAITING)
    if filters.priority:
        patients = patients.filter(priority=filters.priority)
    if filters.clinical_category:
        patients = patients.filter(clinical_category=filters.clinical_category)
    if filters.facility_id:
        patients = patients.filter(facility_id=filters.facility_id)
    if filters.readiness:
        ready = _is_ready()
        patients = patients.filter(ready if filters.readiness == ReadinessFilter.READY else ~ready)
    if filters.referral:
        valid = _valid_referral(on)
        # As `referral_state` reads them: an approved referral issued after the day waits too.
        pending = Exists(
            Referral.objects.filter(patient=OuterRef("pk")).filter(
                Q(status=ReferralStatus.PENDING)
                | Q(status=ReferralStatus.APPROVED, issued_on__gt=on)
            )
        )
        if filters.referral == ReferralFilter.VALID:
            patients = patients.filter(valid)
        elif filters.referral == ReferralFilter.PENDING:
            patients = patients.filter(~valid, pending)
        else:
            patients = patients.filter(~valid, ~pending)
    if filters.child:
        patients = patients.filter(date_of_birth__gt=_adult_cutoff(on))
    if filters.mobility:
        needs = MOBILITY_NEEDS if filters.mobility == "any" else (filters.mobility,)
        any_need = Q()
        for need in needs:
            any_need |= Q(**{need: True})
        patients = patients.filter(any_need)
    return with_queue_columns(patients.queue_order())


def _ahead_of(patient: Patient) -> Q:
    """Waiting cases the next batch takes before this one (the order of `queue_order`)."""
    rank = PRIORITY_RANK[patient.priority]
    higher = [priority for priority, r in PRIORITY_RANK.items() if r < rank]
    return (
        Q(priority__in=higher)
        | Q(priority=patient.priority, registered_at__lt=patient.registered_at)
        | Q(priority=patient.priority, registered_at=patient.registered_at, pk__lt=patient.pk)
    )


def queue_places(user, patients: Sequence[Patient]) -> dict[int, int]:
    """The place in the queue (1 = next) of each waiting case among those the user may see,
    whatever filter chose them: one query for the whole page."""
    waiting = [p for p in patients if p.status == PatientStatus.WAITING]
    if not waiting:
        return {}
    counts = (
        Patient.objects.visible_to(user)
        .filter(status=PatientStatus.WAITING)
        .aggregate(**{f"p{p.pk}": Count("pk", filter=_ahead_of(p)) for p in waiting})
    )
    return {p.pk: counts[f"p{p.pk}"] + 1 for p in waiting}


# --- The returnee queue ---------------------------------------------------------------------


def returnee_queue(user) -> ReturneeQuerySet:
    """Waiting returnees the user may see, first registered first; without the national ID."""
    return (
        with_registration_recorded(Returnee.objects.visible_to(user))
        .filter(status=ReturneeStatus.WAITING)
        .order_by("registered_at", "id")
        .defer("national_id", "national_id_hash", "phone")
    )
