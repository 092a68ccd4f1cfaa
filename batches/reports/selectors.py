"""What auditors read: cancellations, timelines, journeys and the numbers that matter.

Every function reads through the models' `visible_to(user)` and returns plain rows (dataclasses)
that the pages, the API and the exports share. Rows carry references (case references, batch
codes), never names, ID numbers or diagnoses."""

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from operator import attrgetter

from django.db.models import Q, QuerySet
from django.utils import formats, timezone
from django.utils.translation import gettext

from casetracker.audit.models import (
    ACCESS_ACTIONS,
    OCCURRED,
    Action,
    Event,
    SubjectType,
    occurred_between,
)
from patients.models import Patient, PatientStatus, Referral, ReferralStatus

from ..models import (
    Batch,
    BatchMember,
    BatchStatus,
    Clearance,
    CrossingQuota,
    Direction,
    EndReason,
    InformationSource,
    Outcome,
)

# A journey step for a line taken off a batch while it was open (the line itself is deleted).
REMOVED = "removed"

# Patients and returnees share these two statuses: still in the queue, or on a batch again.
QUEUED = (PatientStatus.WAITING, PatientStatus.SCHEDULED)

# Orders the cancellation history accepts (prefix "-" for descending).
CANCELLATION_ORDERS = (
    "code",
    "planned_date",
    "cancelled_at",
    "cancelled_from",
    "reason_code",
    "source",
    "patients",
    "lead_hours",
)


@dataclass(frozen=True)
class Period:
    """Inclusive dates; either end may be open."""

    start: date | None = None
    end: date | None = None

    def days(self) -> list[date]:
        if self.start is None or self.end is None:
            raise ValueError("a closed period is needed to list its days")
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]


@dataclass
class CancellationRow:
    code: str
    crossing: str
    direction: str
    planned_date: date
    # When the cancellation happened (as the coordinator stated it): the day it belongs to and
    # the notice are read from it. `recorded_at`: when it was typed in.
    cancelled_at: datetime
    cancelled_from: str
    reason_code: str
    # What was said: the text, or where it was redacted, "[text redacted on … by …: why]".
    reason_text: str
    source: str  # who decided it
    recorded_by: str
    recorded_by_role: str
    recorded_at: datetime | None = None
    patients: int = 0
    companions: int = 0
    returnees: int = 0
    # Hours from the cancellation to the start of the planned day (negative: on the day itself).
    lead_hours: float = 0.0
    rescheduled_as: str = ""
    rescheduled_for: date | None = None
    # Of the patients and returnees taken off the batch: how many crossed later, and when the
    # last of them did; how many are still waiting.
    crossed_later: int = 0
    last_crossed_on: date | None = None
    still_waiting: int = 0
    people: list[str] = field(default_factory=list)
    # Who relayed the decision to us (blank: directly, or not recorded).
    relayed_by: str = ""
    # What parties said later about the cancellation, in the order it was said, each as one
    # line: "7 Feb 2026, 10:00 · border authority (relayed by WHO): coordination details were
    # missing".
    statements: list[str] = field(default_factory=list)


def _days_between(start: datetime, end: datetime) -> int:
    """Whole local days, as a person counts them: registered Monday, died Wednesday: 2."""
    return (timezone.localdate(end) - timezone.localdate(start)).days


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def _crossings_of(user, patient_ids, returnee_ids) -> dict[tuple[str, int], date]:
    """The day each of these people crossed (their last crossing), keyed (kind, id)."""
    crossed: dict[tuple[str, int], date] = {}
    lines = (
        BatchMember.objects.visible_to(user)
        .filter(outcome=Outcome.CROSSED)
        .filter(Q(patient_id__in=patient_ids) | Q(returnee_id__in=returnee_ids))
    )
    for patient_id, returnee_id, day in lines.values_list(
        "patient_id", "returnee_id", "batch__planned_date"
    ):
        key = ("patient", patient_id) if patient_id else ("returnee", returnee_id)
        crossed[key] = max(day, crossed.get(key, day))
    return crossed


def _cancelled_in(
    user, *, period: Period, crossing: str, reason: str, source: str
) -> QuerySet[Batch]:
    """The cancelled batches whose cancellation matches the filters, as its chained event
    records it (when it occurred, the reason code, who decided); the batch's own columns only
    for a batch without a cancel event (none is recorded without one)."""
    cancels = Event.objects.filter(subject_type=SubjectType.BATCH, action=Action.CANCEL)
    start = _local_midnight(period.start) if period.start else None
    end = _local_midnight(period.end + timedelta(days=1)) if period.end else None
    recorded = cancels.filter(occurred_between(start, end))
    copies = Q()
    if start:
        copies &= Q(cancelled_at__gte=start)
    if end:
        copies &= Q(cancelled_at__lt=end)
    if reason:
        recorded = recorded.filter(reason_code=reason)
        copies &= Q(cancel_reason_code=reason)
    if source:
        recorded = recorded.filter(source=source)
        copies &= Q(cancel_source=source)
    batches = Batch.objects.visible_to(user).filter(status=BatchStatus.CANCELLED)
    if crossing:
        batches = batches.filter(crossing=crossing)
    return batches.filter(
        Q(code__in=recorded.values("subject_ref"))
        | (~Q(code__in=cancels.values("subject_ref")) & copies)
    )


def cancellations(
    user,
    *,
    period: Period = Period(),
    crossing: str = "",
    reason: str = "",
    source: str = "",
    order: str = "-cancelled_at",
) -> list[CancellationRow]:
    """Every cancelled batch (cancelled within `period`, local dates), who recorded it, whom
    it took off the road, and what became of them.

    What the cancellation was (when, from which stage, the reason, what was said, who decided
    and who relayed it) and what was said about it later are read from the chained events,
    never from the batch's and the statements' own columns: those copies serve the operational
    pages, and an UPDATE to them would go unnoticed by `verify_audit_log`."""
    batches = _cancelled_in(user, period=period, crossing=crossing, reason=reason, source=source)
    batches = list(batches.select_related("rescheduled_as"))
    codes = [b.code for b in batches]
    recorders = {
        e.subject_ref: e
        for e in Event.objects.visible_to(user)
        .filter(subject_type=SubjectType.BATCH, action=Action.CANCEL, subject_ref__in=codes)
        .select_related("actor", "text_row__redacted_by")
    }
    said = defaultdict(list)
    for event in (
        Event.objects.visible_to(user)
        .filter(
            subject_type=SubjectType.BATCH,
            action=Action.STATEMENT,
            subject_ref__in=codes,
            details__about_cancellation=True,
        )
        .select_related("text_row__redacted_by")
        .order_by("occurred_at", "id")
    ):
        said[event.subject_ref].append(statement_line(event))
    lines = BatchMember.objects.visible_to(user).filter(
        batch__in=batches, end_reason=EndReason.CANCELLED
    )
    by_batch = defaultdict(list)
    for line in lines.select_related("patient", "returnee", "companion"):
        by_batch[line.batch_id].append(line)
    patient_ids = [line.patient_id for line in lines if line.patient_id]
    returnee_ids = [line.returnee_id for line in lines if line.returnee_id]
    crossed = _crossings_of(user, patient_ids, returnee_ids)

    rows = []
    for batch in batches:
        event = recorders.get(batch.code)
        cancel = cancellation_of(batch, event)
        taken_off = by_batch[batch.pk]
        kinds = Counter(line.kind for line in taken_off)
        people = [line for line in taken_off if line.kind != "companion"]
        later = [crossed.get((line.kind, line.patient_id or line.returnee_id)) for line in people]
        # Crossed "later": on a day from the cancelled batch's planned day or from the day the
        # cancellation came, whichever was first (news may come early and people cross before
        # the old date; a cancellation may be recorded after the fact).
        since = min(batch.planned_date, timezone.localdate(cancel["cancelled_at"]))
        later = [day for day in later if day and day >= since]
        waiting = [line for line in people if (line.patient or line.returnee).status in QUEUED]
        lead = (_local_midnight(batch.planned_date) - cancel["cancelled_at"]).total_seconds()
        rescheduled = getattr(batch, "rescheduled_as", None)
        rows.append(
            CancellationRow(
                code=batch.code,
                crossing=batch.crossing_id,
                direction=batch.direction,
                planned_date=batch.planned_date,
                **cancel,
                statements=said[batch.code],
                recorded_by=event.actor.username if event and event.actor else "",
                recorded_by_role=event.actor_role if event else "",
                recorded_at=event.created_at if event else None,
                patients=kinds["patient"],
                companions=kinds["companion"],
                returnees=kinds["returnee"],
                lead_hours=round(lead / 3600, 1),
                rescheduled_as=rescheduled.code if rescheduled else "",
                rescheduled_for=rescheduled.planned_date if rescheduled else None,
                crossed_later=len(later),
                last_crossed_on=max(later, default=None),
                still_waiting=len(waiting),
                people=[line.person_reference for line in people],
            )
        )
    return _sorted(rows, order)


def cancellation_of(batch: Batch, event: Event | None) -> dict:
    """What a cancellation was, as its chained event records it (the text, or where it was
    redacted the redaction's sentence); the batch's copies only for a batch without one."""
    if event is None:
        return {
            "cancelled_at": batch.cancelled_at,
            "cancelled_from": batch.cancelled_from,
            "reason_code": batch.cancel_reason_code,
            "reason_text": batch.cancel_reason_text,
            "source": batch.cancel_source,
            "relayed_by": batch.cancel_relayed_by,
        }
    return {
        "cancelled_at": event.occurred,
        "cancelled_from": event.from_state,
        "reason_code": event.reason_code,
        "reason_text": event.text_shown,
        "source": event.source,
        "relayed_by": event.details.get("relayed_by", ""),
    }


def _local(moment: datetime) -> str:
    return formats.date_format(timezone.localtime(moment), "Y-m-d H:i")


def _party(value: str) -> str:
    return str(dict(InformationSource.choices).get(value, value))


def statement_line(event: Event) -> str:
    """One statement, as its chained event records it (`statement`: said when it occurred, by
    its `source`, relayed by `details.relayed_by`, its text or the redaction's sentence), as one
    line of text in the active language (pages and exports)."""
    relayed = event.details.get("relayed_by", "")
    names = {
        "when": _local(event.occurred),
        "who": _party(event.source),
        "relayed": _party(relayed),
        "text": event.text_shown,
    }
    if relayed:
        return gettext("%(when)s · %(who)s (relayed by %(relayed)s): %(text)s") % names
    return gettext("%(when)s · %(who)s: %(text)s") % names


def _sorted(rows: list[CancellationRow], order: str) -> list[CancellationRow]:
    key = order.lstrip("-")
    if key not in CANCELLATION_ORDERS:
        raise ValueError(f"order must be one of {CANCELLATION_ORDERS}, with - for descending")
    # The page shows patients and returnees in one column ("people taken off the batch").
    value = (lambda row: row.patients + row.returnees) if key == "patients" else attrgetter(key)
    return sorted(rows, key=lambda row: (value(row), row.code), reverse=order[0] == "-")


# Events whose time is no anchor of a batch's sequence: people added or taken off a draft are
# recorded "now" however late the batch's day is recorded, and reads are no facts.
_NOT_ANCHORS = (Action.ADD_MEMBER, Action.REMOVE_MEMBER, *ACCESS_ACTIONS)


def batch_timeline(user, batch: Batch) -> list[Event]:
    """Every event of the batch and of its manifest lines, in the order things happened: the
    order they were recorded, which the checks of `occurred_at` keep in the order the batch's
    steps occurred, with each later statement placed where it was said, before the first
    event that happened after it (people added to a draft, recorded "now", and reads do not
    count: a batch recorded late has them out of their time)."""
    events = list(
        Event.objects.visible_to(user)
        .filter(batch_ref=batch.code)
        .select_related("actor", "actor_facility", "text_row__redacted_by")
        .order_by("created_at", "id")
    )
    statements = sorted(
        (e for e in events if e.action == Action.STATEMENT), key=lambda e: (e.occurred, e.pk)
    )
    timeline = []
    for event in events:
        if event.action == Action.STATEMENT:
            continue
        if event.action not in _NOT_ANCHORS:
            while statements and statements[0].occurred < event.occurred:
                timeline.append(statements.pop(0))
        timeline.append(event)
    return timeline + statements


def batch_manifest(user, batch: Batch) -> QuerySet:
    """Every line the batch ever had, with its clearance, outcome and why it ended."""
    return (
        BatchMember.objects.visible_to(user)
        .filter(batch=batch)
        .select_related("patient", "companion__patient", "returnee")
        .order_by("id")
    )


# --- Patients -------------------------------------------------------------------------------

# A line that sent its person back to the queue: batch cancelled, not cleared, or the crossing
# failed (turned back, held, did not show).
SENT_BACK = Q(end_reason__in=[EndReason.CANCELLED, EndReason.REJECTED]) | Q(
    end_reason=EndReason.COMPLETED, outcome__in=[Outcome.TURNED_BACK, Outcome.HELD, Outcome.NO_SHOW]
)


@dataclass
class JourneyStep:
    batch: str
    planned_date: date
    batch_status: str
    added_at: datetime
    clearance: str
    outcome: str
    end_reason: str
    sent_back: bool


@dataclass
class Journey:
    case_reference: str
    status: str
    priority: str
    registered_at: datetime
    referral_issued_on: date | None
    crossed_on: date | None
    days_since_registration: int
    days_since_referral: int | None
    bumps: int
    steps: list[JourneyStep]


def _removals(user, patient: Patient) -> list[JourneyStep]:
    """Batches the patient was taken off while they were still open: the line is gone, its
    events remain."""
    events = list(
        Event.objects.visible_to(user).filter(
            subject_type=SubjectType.MEMBER,
            action=Action.REMOVE_MEMBER,
            details__person=patient.case_reference,
        )
    )
    codes = [e.batch_ref for e in events]
    batches = {b.code: b for b in Batch.objects.visible_to(user).filter(code__in=codes)}
    return [
        JourneyStep(
            batch=event.batch_ref,
            planned_date=batches[event.batch_ref].planned_date,
            batch_status=batches[event.batch_ref].status,
            added_at=event.occurred,
            clearance="",
            outcome="",
            end_reason=REMOVED,
            sent_back=False,
        )
        for event in events
        if event.batch_ref in batches
    ]


def _waited_until(user, patient: Patient, crossed_on: date | None) -> date:
    """The wait ends with the crossing, a death or a withdrawal (the day it occurred, however
    late it was recorded); otherwise it goes on today."""
    if crossed_on:
        return crossed_on
    if patient.status in (PatientStatus.DECEASED, PatientStatus.WITHDRAWN):
        ended = (
            Event.objects.visible_to(user)
            .filter(
                subject_type=SubjectType.PATIENT,
                subject_ref=patient.case_reference,
                action=Action.STATUS_CHANGE,
                to_state=patient.status,
            )
            .annotate(when=OCCURRED)
            .order_by("-when", "-id")
            .values_list("when", flat=True)
            .first()
        )
        if ended:
            return timezone.localdate(ended)
    return timezone.localdate()


def patient_journey(user, patient: Patient) -> Journey:
    """Every batch the patient was placed in, what sent them back, and how long they waited
    (until the day they crossed, died or withdrew, or until today)."""
    lines = BatchMember.objects.visible_to(user).filter(patient=patient)
    sent_back = set(lines.filter(SENT_BACK).values_list("pk", flat=True))
    steps = [
        JourneyStep(
            batch=line.batch.code,
            planned_date=line.batch.planned_date,
            batch_status=line.batch.status,
            added_at=line.added_at,
            clearance=line.clearance,
            outcome=line.outcome,
            end_reason=line.end_reason,
            sent_back=line.pk in sent_back,
        )
        for line in lines.select_related("batch").order_by("added_at", "id")
    ]
    steps = sorted(steps + _removals(user, patient), key=lambda s: s.added_at)
    crossed_on = max((s.planned_date for s in steps if s.outcome == Outcome.CROSSED), default=None)
    until = _waited_until(user, patient, crossed_on)
    referral = first_approved_referral(user, patient)
    return Journey(
        case_reference=patient.case_reference,
        status=patient.status,
        priority=patient.priority,
        registered_at=patient.registered_at,
        referral_issued_on=referral,
        crossed_on=crossed_on,
        days_since_registration=(until - timezone.localdate(patient.registered_at)).days,
        days_since_referral=(until - referral).days if referral else None,
        bumps=sum(s.sent_back for s in steps),
        steps=steps,
    )


# A referral that expired while its patient waited was approved all the same: the wait counts
# from it.
WAS_APPROVED = (ReferralStatus.APPROVED, ReferralStatus.EXPIRED)


def first_approved_referral(user, patient: Patient) -> date | None:
    return (
        Referral.objects.visible_to(user)
        .filter(patient=patient, status__in=WAS_APPROVED)
        .order_by("issued_on")
        .values_list("issued_on", flat=True)
        .first()
    )


@dataclass
class BumpedRow:
    case_reference: str
    status: str
    priority: str
    registered_at: datetime
    bumps: int
    last_sent_back_on: date


def bumped_patients(user, *, minimum: int = 2) -> list[BumpedRow]:
    """Patients sent back from `minimum` batches or more (cancelled, not cleared, turned back,
    held or absent), most bumped first."""
    counts: dict[int, list[date]] = defaultdict(list)
    lines = BatchMember.objects.visible_to(user).filter(SENT_BACK, patient__isnull=False)
    for patient_id, day in lines.values_list("patient_id", "batch__planned_date"):
        counts[patient_id].append(day)
    wanted = {pk: days for pk, days in counts.items() if len(days) >= minimum}
    patients = Patient.objects.visible_to(user).filter(pk__in=wanted)
    rows = [
        BumpedRow(
            case_reference=p.case_reference,
            status=p.status,
            priority=p.priority,
            registered_at=p.registered_at,
            bumps=len(wanted[p.pk]),
            last_sent_back_on=max(wanted[p.pk]),
        )
        for p in patients
    ]
    return sorted(rows, key=lambda r: (-r.bumps, r.registered_at, r.case_reference))


# --- The numbers ----------------------------------------------------------------------------


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
