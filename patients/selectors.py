"""Reads that several screens share: finding a case, the waiting queues and the ward.

Nothing here imports `batches` (DESIGN section 5): batch data is reached through the ORM
relation `Patient.lines`, and the states of an open batch are named by their stored values."""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, Subquery
from django.utils import timezone

from casetracker import crypto
from casetracker.audit.models import Action, Event, SubjectType

from .eligibility import has_adult_guardian
from .fields import normalise_national_id
from .models import (
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
from .names import normalise_name

# --- Search ---------------------------------------------------------------------------------


def patient_search(
    user, *, national_id: str = "", name: str = "", reference: str = ""
) -> PatientQuerySet:
    """Cases the user may see whose national ID is exactly this one (in any digit form, through
    the keyed hash), whose case reference is this one, and/or whose name, Latin or Arabic,
    contains this text; in queue order."""
    patients = Patient.objects.visible_to(user).select_related("facility")
    if national_id:
        hashes = crypto.lookup_hashes(normalise_national_id(national_id))
        patients = patients.filter(national_id_hash__in=hashes)
    if reference:
        patients = patients.filter(case_reference=normalise_reference(reference, "EV"))
    if name:
        name = normalise_name(name)
        patients = patients.filter(Q(name_latin__icontains=name) | Q(name_arabic__icontains=name))
    return patients.queue_order()


def returnee_search(
    user, *, national_id: str = "", name: str = "", reference: str = ""
) -> ReturneeQuerySet:
    """Returnees the user may see, found like `patient_search`; in registration order."""
    returnees = with_registration_recorded(Returnee.objects.visible_to(user))
    if national_id:
        hashes = crypto.lookup_hashes(normalise_national_id(national_id))
        returnees = returnees.filter(national_id_hash__in=hashes)
    if reference:
        returnees = returnees.filter(reference=normalise_reference(reference, "RT"))
    if name:
        name = normalise_name(name)
        returnees = returnees.filter(Q(name_latin__icontains=name) | Q(name_arabic__icontains=name))
    return returnees.order_by("registered_at", "id")


def search_kind(*, national_id: str = "", name: str = "", reference: str = "") -> str:
    """What the access log records about a search: which fields were used, never their values."""
    used = (("national_id", national_id), ("reference", reference), ("name", name))
    return ",".join(key for key, value in used if value)


def normalise_reference(text: str, prefix: str) -> str:
    """ "ev 7k3q9m", "EV7K3Q9M" and "EV-7K3Q9M" are the same case reference."""
    compact = re.sub(r"[\s\-]", "", text).upper()
    if compact.startswith(prefix):
        compact = compact[len(prefix) :]
    return f"{prefix}-{compact}"


def classify_search(text: str, prefix: str) -> dict[str, str]:
    """One search box for a person: a reference (`EV-…`/`RT-…`), a national ID (digits, in any
    script, spaces and dashes ignored) or else part of a name. Returns the keyword arguments of
    `patient_search` / `returnee_search`."""
    text = text.strip()
    if re.fullmatch(rf"(?i){prefix}[\s\-]?[0-9A-Z]{{6}}", text):
        return {"reference": text}
    digits = normalise_national_id(text)
    if digits and digits.isascii() and digits.isdigit():
        return {"national_id": text}
    return {"name": text}


# --- The patient queue ----------------------------------------------------------------------


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
                queryset=Companion.objects.only("id", "patient_id", "is_guardian").order_by("id"),
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


# --- The returnee queue ---------------------------------------------------------------------


def returnee_queue(user) -> ReturneeQuerySet:
    """Waiting returnees the user may see, first registered first; without the national ID."""
    return (
        with_registration_recorded(Returnee.objects.visible_to(user))
        .filter(status=ReturneeStatus.WAITING)
        .order_by("registered_at", "id")
        .defer("national_id", "national_id_hash", "phone")
    )


# --- The ward (hospital staff) --------------------------------------------------------------

# Batches still to leave: their stored status values (batches.models.BatchStatus, not imported).
OPEN_BATCH_STATES = ("draft", "prepared", "submitted", "cleared")


def _ward_base(user, facility_id: int | None) -> PatientQuerySet:
    patients = Patient.objects.visible_to(user)
    if facility_id:
        patients = patients.filter(facility_id=facility_id)
    return patients


def ward_scheduled(
    user, *, facility_id: int | None = None, on: date | None = None
) -> PatientQuerySet:
    """Cases the user may see on a batch still to leave (planned `on` or later), by planned
    date, batch code and queue order, each with `batch_code` and `planned_date`."""
    on = on or timezone.localdate()
    # One filter() call: the annotations below reuse its join to the one open line per case.
    patients = _ward_base(user, facility_id).filter(
        lines__is_open=True,
        lines__batch__status__in=OPEN_BATCH_STATES,
        lines__batch__planned_date__gte=on,
    )
    patients = patients.annotate(
        batch_code=F("lines__batch__code"), planned_date=F("lines__batch__planned_date")
    )
    # Within a batch, the queue order (`queue_order` names its priority rank "priority_rank").
    ordered = patients.queue_order().order_by(
        "planned_date", "batch_code", "priority_rank", "registered_at", "id"
    )
    return with_queue_columns(ordered)


def ward_waiting(user, *, facility_id: int | None = None) -> PatientQuerySet:
    """Waiting cases the user may see, in queue order."""
    patients = _ward_base(user, facility_id).filter(status=PatientStatus.WAITING)
    return with_queue_columns(patients.queue_order())


def ward_card(user, case_reference: str, *, on: date | None = None) -> Patient | None:
    """One case for its ward card, with `batch_code` and `planned_date` when it is on a batch
    still to leave (else None)."""
    on = on or timezone.localdate()
    patient = (
        with_queue_columns(Patient.objects.visible_to(user))
        .filter(case_reference=case_reference)
        .first()
    )
    if patient is None:
        return None
    line = (
        patient.lines.filter(
            is_open=True, batch__status__in=OPEN_BATCH_STATES, batch__planned_date__gte=on
        )
        .values_list("batch__code", "batch__planned_date")
        .first()
    )
    patient.batch_code, patient.planned_date = line or (None, None)
    return patient
