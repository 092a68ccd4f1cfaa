"""A batch's timeline and manifest; a patient's journey through the batches, and the patients
sent back most often."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from casetracker.audit.models import ACCESS_ACTIONS, OCCURRED, Action, Event, SubjectType
from patients.models import Patient, PatientStatus, Referral, ReferralStatus

from ...models import Batch, BatchMember, EndReason, Outcome
from ...selectors import NOT_SHOWN

# A journey step for a line taken off a batch while it was open (the line itself is deleted).
REMOVED = "removed"


# Events whose time is no anchor of a batch's sequence: people added or taken off a draft are
# recorded "now" however late the batch's day is recorded, and reads are no facts.
_NOT_ANCHORS = (Action.ADD_MEMBER, Action.REMOVE_MEMBER, *ACCESS_ACTIONS)


def batch_events(user, batch: Batch) -> QuerySet:
    """Every event of the batch and of its manifest lines that the user may see, in the order
    they were recorded, with what the timeline shows of them."""
    return (
        Event.objects.visible_to(user)
        .filter(batch_ref=batch.code)
        .select_related("actor", "actor_facility", "text_row__redacted_by")
        .order_by("created_at", "id")
    )


def batch_timeline(user, batch: Batch, events: list[Event] | None = None) -> list[Event]:
    """Every event of the batch and of its manifest lines, in the order things happened: the
    order they were recorded, which the checks of `occurred_at` keep in the order the batch's
    steps occurred, with each later statement placed where it was said, before the first
    event that happened after it (people added to a draft, recorded "now", and reads do not
    count: a batch recorded late has them out of their time). `events`: `batch_events`, when
    the caller has read them already (the batch page reads its redactions from them)."""
    if events is None:
        events = list(batch_events(user, batch))
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
    """Every line the batch ever had, with its clearance, outcome and why it ended; people by
    reference (their ID numbers, each a decryption, are not loaded)."""
    return (
        BatchMember.objects.visible_to(user)
        .filter(batch=batch)
        .select_related("patient", "companion__patient", "returnee")
        .defer(*NOT_SHOWN)
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
    # The columns of the row, and no more: a whole row would decrypt the national ID.
    patients = (
        Patient.objects.visible_to(user)
        .filter(pk__in=wanted)
        .only("case_reference", "status", "priority", "registered_at")
    )
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
