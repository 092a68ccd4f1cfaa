"""The cancellation history: every cancelled batch, as its chained events record it, whom it
took off the road and what became of them; and the statements made about it later."""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from operator import attrgetter

from django.db.models import Q, QuerySet
from django.utils import formats, timezone
from django.utils.translation import gettext

from casetracker.audit.models import Action, Event, SubjectType, occurred_between
from patients.models import PatientStatus

from ...models import Batch, BatchMember, BatchStatus, EndReason, InformationSource, Outcome
from .periods import Period, _local_midnight

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
