"""The cancellation history: every cancelled batch, as its chained events record it, whom it
took off the road and what became of them; and the statements made about it later."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from operator import attrgetter

from django.db.models import Max, Q, QuerySet
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


# Up to this many cancelled batches, the queries of their events and lines name them one by
# one (the default week holds a few dozen); beyond, by a subquery (see `cancellations`).
NAMED_BATCHES = 300

# The batch's own copies of its cancellation, read only for a batch without a cancel event.
_BATCH_CANCEL_COPIES = (
    "cancelled_at",
    "cancelled_from",
    "cancel_reason_code",
    "cancel_reason_text",
    "cancel_source",
    "cancel_relayed_by",
)
# The columns the history reads, and no more: a year holds thousands of cancellations, and
# every column loaded costs on each of them.
_BATCH_COLUMNS = (
    "code",
    "crossing",
    "direction",
    "planned_date",
    *_BATCH_CANCEL_COPIES,
    "rescheduled_as__code",
    "rescheduled_as__planned_date",
)
# An event's time, source, details and text (`statement_line`, `cancellation_of`).
_EVENT_COLUMNS = (
    "subject_ref",
    "created_at",
    "occurred_at",
    "source",
    "details",
    "chained_text",
    "text_digest",
    "text_row__text",
    "text_row__redacted_at",
    "text_row__redaction_reason",
    "text_row__redacted_by__username",
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


@dataclass
class TakenOff:
    """Whom a cancellation took off its batch: how many of each kind, and each patient and
    returnee by reference (no name, no ID number: the people's rows are never loaded whole,
    so nothing is decrypted)."""

    patients: int = 0
    companions: int = 0
    returnees: int = 0
    # (kind, id, reference, status now) of each patient and returnee, in the order added.
    people: list[tuple[str, int, str, str]] = field(default_factory=list)


def _taken_off(lines: QuerySet[BatchMember]) -> dict[int, TakenOff]:
    """By batch id, whom these lines took off (one query, of the columns the history shows)."""
    rows = lines.order_by("id").values_list(
        "batch_id",
        "patient_id",
        "companion_id",
        "returnee_id",
        "patient__case_reference",
        "patient__status",
        "returnee__reference",
        "returnee__status",
    )
    taken_off: dict[int, TakenOff] = defaultdict(TakenOff)
    for batch_id, patient_id, companion_id, returnee_id, case, case_status, ret, ret_status in rows:
        batch = taken_off[batch_id]
        if patient_id:
            batch.patients += 1
            batch.people.append(("patient", patient_id, case, case_status))
        elif companion_id:
            batch.companions += 1
        else:
            batch.returnees += 1
            batch.people.append(("returnee", returnee_id, ret, ret_status))
    return taken_off


def _crossings_of(user, lines: QuerySet[BatchMember]) -> dict[tuple[str, int], date]:
    """The day each patient and returnee of these lines crossed (their last crossing), keyed
    (kind, id). The people are named by a subquery (a list of ids would cost a parameter each),
    one query per kind so that PostgreSQL can serve each from its column's index."""
    crossed: dict[tuple[str, int], date] = {}
    crossings = BatchMember.objects.visible_to(user).filter(outcome=Outcome.CROSSED)
    for kind in ("patient", "returnee"):
        people = lines.filter(**{f"{kind}__isnull": False}).values(f"{kind}_id")
        last = (
            crossings.filter(**{f"{kind}_id__in": people})
            .values_list(f"{kind}_id")
            .annotate(last=Max("batch__planned_date"))
            .order_by()
        )
        crossed.update(((kind, person_id), day) for person_id, day in last)
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
    cancelled = _cancelled_in(user, period=period, crossing=crossing, reason=reason, source=source)
    batches = list(cancelled.select_related("rescheduled_as").only(*_BATCH_COLUMNS))
    # The events and the lines below name these batches: by their codes and ids when they
    # are few (PostgreSQL then knows how few, and reads them by index), by a subquery when
    # they are many (thousands of codes or ids would cost a query parameter each).
    if len(batches) > NAMED_BATCHES:
        codes, pks = cancelled.values("code"), cancelled.values("pk")
    else:
        codes, pks = [b.code for b in batches], [b.pk for b in batches]
    recorders = {
        e.subject_ref: e
        for e in Event.objects.visible_to(user)
        .filter(subject_type=SubjectType.BATCH, action=Action.CANCEL, subject_ref__in=codes)
        .select_related("actor", "text_row__redacted_by")
        .only(*_EVENT_COLUMNS, "reason_code", "from_state", "actor_role", "actor__username")
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
        .only(*_EVENT_COLUMNS)
        .order_by("occurred_at", "id")
    ):
        said[event.subject_ref].append(statement_line(event))
    closed = BatchMember.objects.visible_to(user).filter(
        batch_id__in=pks, end_reason=EndReason.CANCELLED
    )
    by_batch = _taken_off(closed)
    crossed = _crossings_of(user, closed)

    here = timezone.get_current_timezone()
    midnights: dict[date, datetime] = {}  # of the planned days, many batches a day
    rows = []
    for batch in batches:
        event = recorders.get(batch.code)
        cancel = cancellation_of(batch, event)
        taken_off = by_batch.get(batch.pk) or TakenOff()
        later = [crossed.get((kind, pk)) for kind, pk, _ref, _status in taken_off.people]
        # Crossed "later": on a day from the cancelled batch's planned day or from the day the
        # cancellation came, whichever was first (news may come early and people cross before
        # the old date; a cancellation may be recorded after the fact).
        since = min(batch.planned_date, timezone.localdate(cancel["cancelled_at"], here))
        later = [day for day in later if day and day >= since]
        waiting = [ref for _kind, _pk, ref, status in taken_off.people if status in QUEUED]
        if batch.planned_date not in midnights:
            midnights[batch.planned_date] = _local_midnight(batch.planned_date)
        lead = (midnights[batch.planned_date] - cancel["cancelled_at"]).total_seconds()
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
                patients=taken_off.patients,
                companions=taken_off.companions,
                returnees=taken_off.returnees,
                lead_hours=round(lead / 3600, 1),
                rescheduled_as=rescheduled.code if rescheduled else "",
                rescheduled_for=rescheduled.planned_date if rescheduled else None,
                crossed_later=len(later),
                last_crossed_on=max(later, default=None),
                still_waiting=len(waiting),
                people=[ref for _kind, _pk, ref, _status in taken_off.people],
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
