"""Reads of the batch pages: a manifest grouped by patient, and what a day looks like."""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from patients.models import Patient, Readiness, Referral, ReferralStatus

from .models import (
    TERMINAL_STATUSES,
    Batch,
    BatchMember,
    Clearance,
    Crossing,
    CrossingQuota,
    Direction,
    Outcome,
)
from .services.quotas import HOLDS_PLACES

# Never shown on the batch page: the national ID costs a decryption per row, the diagnosis is
# clinical detail.
NOT_SHOWN = (
    "patient__national_id",
    "patient__diagnosis",
    "companion__national_id",
    "companion__patient__national_id",
    "companion__patient__diagnosis",
    "returnee__national_id",
)


@dataclass
class Group:
    """One patient's lines (the patient first, then their companions), or one returnee."""

    head: BatchMember
    companions: list[BatchMember] = field(default_factory=list)

    @property
    def lines(self) -> list[BatchMember]:
        return [self.head, *self.companions]

    @property
    def missing(self) -> list[str]:
        """Readiness items the patient still lacks, as labels (nothing for a returnee)."""
        patient = self.head.patient
        readiness = getattr(patient, "readiness", None) if patient else None
        if patient is None:
            return []
        if readiness is None:
            return [Readiness.label(flag) for flag in Readiness().missing()]
        travelling = any(line.is_open for line in self.companions)
        flags = readiness.missing(with_companions=travelling)
        return [Readiness.label(flag) for flag in flags]


# What the printed sheet embedded in the batch page needs besides: the vehicle, and the ID
# numbers of the people themselves (masked there, but decrypted to be masked).
_SHEET_IDS = ("patient__national_id", "companion__national_id", "returnee__national_id")


def batch_lines(user, batch: Batch, *, sheet: bool = False) -> QuerySet:
    """Every line the batch has had that the user may see, in the order they were added;
    `sheet`: with what the printed manifest (`batches.manifest`) needs too, so that one read
    serves the page and its sheet."""
    related = ["batch", "patient__readiness", "patient__facility", "companion__patient", "returnee"]
    return (
        BatchMember.objects.visible_to(user)
        .filter(batch=batch)
        .select_related(*related, *(["vehicle"] if sheet else []))
        .defer(*(name for name in NOT_SHOWN if not (sheet and name in _SHEET_IDS)))
        .order_by("id")
    )


def manifest_groups(lines) -> list[Group]:
    """Lines grouped by patient, in the order their patients were added; a companion line whose
    patient's line is not among them gets a group of its own."""
    groups: list[Group] = []
    by_patient: dict[int, Group] = {}
    orphans = []
    for line in lines:
        if line.companion_id:
            orphans.append(line)
            continue
        group = Group(line)
        groups.append(group)
        if line.patient_id:
            # A patient may have had two lines on one batch (removed and added again): the
            # companions follow the latest.
            by_patient[line.patient_id] = group
    for line in orphans:
        group = by_patient.get(line.companion.patient_id)
        if group is None:
            groups.append(Group(line))
        else:
            group.companions.append(line)
    return groups


@dataclass(frozen=True)
class Counts:
    patients: int
    companions: int
    returnees: int
    pending: int


def open_counts(lines) -> Counts:
    open_lines = [line for line in lines if line.is_open]
    return Counts(
        patients=sum(1 for line in open_lines if line.patient_id),
        companions=sum(1 for line in open_lines if line.companion_id),
        returnees=sum(1 for line in open_lines if line.returnee_id),
        pending=sum(1 for line in open_lines if line.clearance == Clearance.PENDING),
    )


# --- The coordinator's day ------------------------------------------------------------------


@dataclass
class DayPlan:
    """One day, one crossing, one direction: its batches and what is left of its quota."""

    day: date
    crossing: str  # its code
    direction: str
    batches: list[Batch] = field(default_factory=list)
    quota: CrossingQuota | None = None
    taken_people: int = 0
    taken_companions: int = 0
    crossing_row: Crossing | None = None

    @property
    def people_left(self) -> int | None:
        return None if self.quota is None else self.quota.agreed_patients - self.taken_people

    @property
    def companions_left(self) -> int | None:
        if self.quota is None:
            return None
        return self.quota.agreed_companions - self.taken_companions

    @property
    def is_exit(self) -> bool:
        return self.direction == Direction.EXIT

    @property
    def crossing_label(self) -> str:
        return self.crossing_row.name if self.crossing_row else self.crossing


def plan_of_days(user, *, first: date, days: int, crossings: list[Crossing]) -> list[DayPlan]:
    """Batches and quotas of `days` days from `first`, per crossing and direction, with the
    places the prepared and later batches hold (as `places_left_on` counts them), in a fixed
    number of queries whatever the number of days. `crossings`: the user's, read once by the
    caller, which lists them too."""
    last = first + timedelta(days=days - 1)
    plans: dict[tuple, DayPlan] = {}
    by_code = {c.code: c for c in crossings}

    def plan(day, crossing, direction) -> DayPlan:
        key = (day, crossing, direction)
        if key not in plans:
            plans[key] = DayPlan(day, crossing, direction, crossing_row=by_code.get(crossing))
        return plans[key]

    for quota in CrossingQuota.objects.visible_to(user).filter(date__range=(first, last)):
        plan(quota.date, quota.crossing_id, quota.direction).quota = quota
    open_line = Q(members__is_open=True)
    batches = (
        Batch.objects.visible_to(user)
        .filter(planned_date__range=(first, last))
        .select_related("staging_facility")
        .annotate(
            patients=Count("members", filter=open_line & Q(members__patient__isnull=False)),
            companions=Count("members", filter=open_line & Q(members__companion__isnull=False)),
            returnees=Count("members", filter=open_line & Q(members__returnee__isnull=False)),
        )
        .order_by("planned_date", "crossing_id", "direction", "code")
    )
    for batch in batches:
        plan(batch.planned_date, batch.crossing_id, batch.direction).batches.append(batch)
    taken = (
        BatchMember.objects.filter(
            batch__planned_date__range=(first, last), batch__status__in=HOLDS_PLACES
        )
        .filter(Q(is_open=True) | Q(outcome=Outcome.CROSSED))
        .values("batch__planned_date", "batch__crossing", "batch__direction")
        .annotate(
            people=Count("pk", filter=Q(patient__isnull=False) | Q(returnee__isnull=False)),
            companions=Count("pk", filter=Q(companion__isnull=False)),
        )
    )
    for row in taken:
        key = (row["batch__planned_date"], row["batch__crossing"], row["batch__direction"])
        if key in plans:
            plans[key].taken_people = row["people"]
            plans[key].taken_companions = row["companions"]
    return sorted(plans.values(), key=lambda p: (p.day, p.crossing, p.direction != "exit"))


@dataclass(frozen=True)
class CrossingDays:
    """One crossing, its state, and its days (`DayPlan`) in order."""

    crossing: Crossing
    plans: list[DayPlan]


def plans_by_crossing(user, *, first: date, days: int) -> list[CrossingDays]:
    """`plan_of_days` grouped by crossing, every crossing listed (a closed one with no batch
    still says since when it is closed); crossings with something planned first."""
    crossings = list(Crossing.objects.visible_to(user))
    plans = plan_of_days(user, first=first, days=days, crossings=crossings)
    groups = [
        CrossingDays(crossing, [p for p in plans if p.crossing == crossing.code])
        for crossing in crossings
    ]
    return sorted(groups, key=lambda g: (not g.plans, g.crossing.code))


@dataclass(frozen=True)
class NotReady:
    patient: Patient
    batch: Batch
    missing: list[str]


def not_ready_on(user, day: date) -> list[NotReady]:
    """Patients on the open batches of `day` whose readiness still misses items."""
    lines = (
        BatchMember.objects.visible_to(user)
        .filter(is_open=True, patient__isnull=False, batch__planned_date=day)
        .exclude(batch__status__in=TERMINAL_STATUSES)
        .select_related("batch", "patient__readiness")
        .defer(*NOT_SHOWN)
        .order_by("batch__code", "id")
    )
    with_companions = set(
        BatchMember.objects.filter(
            is_open=True, batch__planned_date=day, companion__isnull=False
        ).values_list("companion__patient_id", flat=True)
    )
    rows = []
    for line in lines:
        readiness = getattr(line.patient, "readiness", None) or Readiness()
        flags = readiness.missing(with_companions=line.patient_id in with_companions)
        if flags:
            rows.append(NotReady(line.patient, line.batch, [Readiness.label(f) for f in flags]))
    return rows


@dataclass(frozen=True)
class ExpiringReferral:
    patient: Patient
    batch: Batch
    expires_on: date | None


def referrals_lapsing(user, *, first: date, last: date) -> list[ExpiringReferral]:
    """Patients on open batches planned from `first` to `last` who hold no approved referral
    valid on their batch's day (expired before it, issued after it, or never approved):
    `prepare` will refuse them. `expires_on` is the latest expiry before that day of their
    approved referrals, if any."""
    # Most patients hold one: they are left out by the database, not read with their referrals.
    valid_that_day = Referral.objects.valid_on(OuterRef("batch__planned_date")).filter(
        patient=OuterRef("patient_id")
    )
    lines = (
        BatchMember.objects.visible_to(user)
        .filter(is_open=True, patient__isnull=False, batch__planned_date__range=(first, last))
        .exclude(batch__status__in=TERMINAL_STATUSES)
        .exclude(Exists(valid_that_day))
        .select_related("batch", "patient")
        .defer(*NOT_SHOWN)
        .prefetch_related("patient__referrals")
        .order_by("batch__planned_date", "batch__code", "id")
    )
    rows = []
    for line in lines:
        day = line.batch.planned_date
        referrals = line.patient.referrals.all()
        # An approved referral issued after the day is not an expired one: no date to show.
        lapsed = [
            r.expires_on
            for r in referrals
            if r.status == ReferralStatus.APPROVED and r.expires_on and r.expires_on < day
        ]
        latest = max(lapsed, default=None)
        rows.append(ExpiringReferral(line.patient, line.batch, latest))
    return rows
