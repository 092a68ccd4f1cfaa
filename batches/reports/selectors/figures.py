"""The numbers that matter: each day's quota beside who crossed, the weekly cancellation rate,
the wait from referral to crossing, and the deaths while waiting."""

import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from casetracker.audit.models import OCCURRED, Action, Event, SubjectType
from patients.models import Patient, PatientStatus, Referral

from ...models import (
    Batch,
    BatchMember,
    BatchStatus,
    Clearance,
    CrossingQuota,
    Direction,
    EndReason,
    Outcome,
)
from .journeys import WAS_APPROVED
from .periods import Period, _days_between, _local_midnight


@dataclass
class DayRow:
    date: date
    direction: str
    # Out: the agreed patients and companions; back in: the agreed returnees (`agreed_returnees`
    # below). None on a row of the other direction, and on a day without a quota.
    agreed_patients: int | None
    agreed_companions: int | None
    patients_crossed: int = 0
    companions_crossed: int = 0
    returnees_crossed: int = 0
    held: int = 0
    turned_back: int = 0
    no_show: int = 0
    # People whose clearance the border authority refused, on the batches of that day and
    # direction, whether the batch went ahead or was cancelled; not the companions who stayed
    # behind with a refused patient (they were not refused).
    refused_at_vetting: int = 0
    agreed_returnees: int | None = None

    @property
    def people_crossed(self) -> int:
        return self.patients_crossed + self.companions_crossed + self.returnees_crossed


def _day_row(day: date, direction: str, quotas: dict) -> DayRow:
    quota = quotas.get((day, direction))
    if quota is None:
        return DayRow(date=day, direction=direction, agreed_patients=None, agreed_companions=None)
    if quota.is_exit:
        return DayRow(
            date=day,
            direction=direction,
            agreed_patients=quota.agreed_patients,
            agreed_companions=quota.agreed_companions,
        )
    return DayRow(
        date=day,
        direction=direction,
        agreed_patients=None,
        agreed_companions=None,
        agreed_returnees=quota.agreed_returnees,
    )


def quota_vs_crossed(user, *, period: Period, crossing: str) -> list[DayRow]:
    """Per day and direction: the agreed quota beside who actually crossed, was held, turned
    back or did not show, and who was refused at vetting."""
    days = period.days()
    quotas = {
        (q.date, q.direction): q
        for q in CrossingQuota.objects.visible_to(user).filter(
            crossing=crossing, date__range=(period.start, period.end)
        )
    }
    rows = {
        (day, direction): _day_row(day, direction, quotas)
        for day in days
        for direction in Direction.values
    }
    outcomes = (
        BatchMember.objects.visible_to(user)
        .filter(
            end_reason=EndReason.COMPLETED,
            batch__crossing=crossing,
            batch__planned_date__range=(period.start, period.end),
        )
        .values_list(
            "batch__planned_date", "batch__direction", "outcome", "patient_id", "companion_id"
        )
    )
    for day, direction, outcome, patient_id, companion_id in outcomes:
        row = rows[(day, direction)]
        if outcome == Outcome.CROSSED:
            kind = "patients" if patient_id else "companions" if companion_id else "returnees"
            setattr(row, f"{kind}_crossed", getattr(row, f"{kind}_crossed") + 1)
        elif outcome in (Outcome.HELD, Outcome.TURNED_BACK, Outcome.NO_SHOW):
            setattr(row, outcome, getattr(row, outcome) + 1)
    # A refusal at vetting is the border authority's decision, a fact whether or not the batch
    # went ahead: counted on every ended line whose clearance was rejected, whatever ended it
    # (cleared without them, or the batch cancelled before or after clearing). An open line's
    # decision may still be corrected until the batch is cleared.
    refused = (
        BatchMember.objects.visible_to(user)
        .filter(
            is_open=False,
            clearance=Clearance.REJECTED,
            batch__crossing=crossing,
            batch__planned_date__range=(period.start, period.end),
        )
        .values_list("batch__planned_date", "batch__direction")
    )
    for day, direction in refused:
        rows[(day, direction)].refused_at_vetting += 1
    return [rows[(day, direction)] for day in days for direction in Direction.values]


@dataclass
class WeekRow:
    week_start: date
    decided: int  # batches of the week that crossed or were cancelled
    cancelled: int

    @property
    def rate(self) -> float | None:
        return round(100 * self.cancelled / self.decided, 1) if self.decided else None


def cancellation_rate(user, *, period: Period) -> tuple[list[WeekRow], dict[str, int]]:
    """Per week (Monday first) of planned dates: the share of decided batches that were
    cancelled; and the cancellations of the period per reason code."""
    batches = Batch.objects.visible_to(user).filter(
        status__in=[BatchStatus.CROSSED, BatchStatus.CANCELLED],
        planned_date__range=(period.start, period.end),
    )
    weeks: dict[date, WeekRow] = {}
    monday = period.start - timedelta(days=period.start.weekday())
    while monday <= period.end:
        weeks[monday] = WeekRow(week_start=monday, decided=0, cancelled=0)
        monday += timedelta(days=7)
    reasons: Counter[str] = Counter()
    for planned, status, reason in batches.values_list(
        "planned_date", "status", "cancel_reason_code"
    ):
        week = weeks[planned - timedelta(days=planned.weekday())]
        week.decided += 1
        if status == BatchStatus.CANCELLED:
            week.cancelled += 1
            reasons[reason] += 1
    return list(weeks.values()), dict(reasons.most_common())


@dataclass
class WaitSummary:
    patients: int
    median_days: float | None
    shortest: int | None
    longest: int | None


def referral_to_crossing(user, *, period: Period) -> WaitSummary:
    """Days from the first approved referral to the crossing, for patients who crossed in the
    period."""
    crossings = (
        BatchMember.objects.visible_to(user)
        .filter(
            outcome=Outcome.CROSSED,
            patient__isnull=False,
            batch__planned_date__range=(period.start, period.end),
        )
        .values_list("patient_id", "batch__planned_date")
    )
    crossed_on = dict(crossings)
    referrals: dict[int, date] = {}
    for patient_id, issued in (
        Referral.objects.visible_to(user)
        .filter(patient_id__in=crossed_on, status__in=WAS_APPROVED)
        .order_by("issued_on")
        .values_list("patient_id", "issued_on")
    ):
        referrals.setdefault(patient_id, issued)
    waits = sorted((crossed_on[pk] - issued).days for pk, issued in referrals.items())
    return WaitSummary(
        patients=len(waits),
        median_days=statistics.median(waits) if waits else None,
        shortest=waits[0] if waits else None,
        longest=waits[-1] if waits else None,
    )


@dataclass
class DeathRow:
    case_reference: str
    died_at: datetime  # when the death occurred, as recorded; the day it counts on
    recorded_at: datetime
    was: str
    registered_at: datetime | None
    days_waited: int | None


def deaths_while_waiting(user, *, period: Period) -> list[DeathRow]:
    """Patients who died in the period (by the time the death occurred, however late it was
    recorded) while waiting or scheduled for a batch."""
    events = (
        Event.objects.visible_to(user)
        .annotate(when=OCCURRED)
        .filter(
            subject_type=SubjectType.PATIENT,
            action=Action.STATUS_CHANGE,
            to_state=PatientStatus.DECEASED,
            from_state__in=[PatientStatus.WAITING, PatientStatus.SCHEDULED],
            when__gte=_local_midnight(period.start),
            when__lt=_local_midnight(period.end + timedelta(days=1)),
        )
    )
    registered = dict(
        Patient.objects.visible_to(user)
        .filter(case_reference__in=events.values("subject_ref"))
        .values_list("case_reference", "registered_at")
    )
    rows = []
    for event in events.order_by("when", "id"):
        since = registered.get(event.subject_ref)
        rows.append(
            DeathRow(
                case_reference=event.subject_ref,
                died_at=event.occurred,
                recorded_at=event.created_at,
                was=event.from_state,
                registered_at=since,
                days_waited=_days_between(since, event.occurred) if since else None,
            )
        )
    return rows
