"""Pieces shared by the batch services: locking, closing lines, events and notifications."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Max, Q
from django.utils.translation import gettext as _

from casetracker.audit.models import (
    ACCESS_ACTIONS,
    ASIDE_ACTIONS,
    OCCURRED,
    Action,
    Event,
    SubjectType,
)
from casetracker.audit.occurred import checked_occurred_at
from casetracker.audit.services import record_event
from patients.models import Patient, PatientStatus, Returnee, ReturneeStatus
from patients.services import patients_move, returnee_move

from ..models import Batch, BatchMember
from .audience import notify_batch_event


def too_long(model, field: str, value: str) -> str | None:
    """The problem with `value` for `model.field`, if it is longer than the field allows.
    Services check before writing: the database would refuse it with an error naming no
    field (PostgreSQL), or not at all (SQLite)."""
    limit = model._meta.get_field(field).max_length
    if len(value) > limit:
        return _("at most %(limit)d characters, not %(length)d") % {
            "limit": limit,
            "length": len(value),
        }
    return None


def lock_batch(batch: Batch) -> Batch:
    """Re-read the batch under a row lock: every batch service starts here, so two services on
    one batch run one after the other and the second sees the first one's result."""
    # `of=self`: lock the batch only, not the staging facility it is read with, or every batch
    # of one facility would wait for the others.
    return (
        Batch.objects.select_for_update(of=("self",))
        .select_related("staging_facility")
        .get(pk=batch.pk)
    )


def batch_occurred_at(batch: Batch, occurred_at: datetime | None) -> datetime | None:
    """`occurred_at` of a fact about a (locked) batch, checked: not in the future and not before
    the latest fact of the batch, by when it occurred: its transitions and vehicle changes, and
    the clearance decisions of its lines (a batch without events: its creation). Adding or
    removing people on a draft is recorded "now" and does not count, nor do reads of the record.
    None (not stated) is "now", which follows everything recorded."""
    if occurred_at is None:
        return None
    latest = (
        Event.objects.filter(
            Q(subject_type=SubjectType.BATCH, subject_ref=batch.code)
            | Q(subject_type=SubjectType.MEMBER, batch_ref=batch.code, action=Action.CLEARANCE)
        )
        # Reads, later statements and redactions are no steps of the batch.
        .exclude(action__in=(*ACCESS_ACTIONS, *ASIDE_ACTIONS))
        .aggregate(latest=Max(OCCURRED))["latest"]
    )
    return checked_occurred_at(
        occurred_at,
        follows=latest or batch.created_at,
        follows_what=_("the latest event of batch %(code)s") % {"code": batch.code},
    )


def open_lines(batch: Batch):
    return batch.members.filter(is_open=True).select_related(
        "patient__readiness", "companion__patient", "returnee"
    )


def lock_people(batch: Batch) -> None:
    """Lock the patients and returnees on the open lines, in id order (no deadlocks)."""
    lines = BatchMember.objects.filter(batch=batch, is_open=True)
    list(Patient.objects.select_for_update(of=("self",)).filter(lines__in=lines).order_by("pk"))
    list(Returnee.objects.select_for_update(of=("self",)).filter(lines__in=lines).order_by("pk"))


def close_lines(lines: Iterable[BatchMember], end_reason: str, *, person_status: dict) -> None:
    """End lines; their patients and returnees move to `person_status[kind]`.

    `person_status` maps "patient" and "returnee" to a status, or to a function of the line
    that returns one (the outcome of a crossing decides it per person)."""
    lines = list(lines)
    for line in lines:
        line.is_open = False
        line.end_reason = end_reason
    # One UPDATE for them all: a save each was a round trip each (150 for a cancelled batch of
    # 50 patients with their companions).
    BatchMember.objects.bulk_update(lines, ["is_open", "end_reason", "outcome"])
    moves = []
    for line in lines:
        target = person_status.get(line.kind)
        if callable(target):
            target = target(line)
        if line.patient_id and target:
            moves.append((line.patient, target))
        elif line.returnee_id and target:
            returnee_move(returnee=line.returnee, to=target)
    # The patients too in one UPDATE per status they end in, not a save each.
    patients_move(moves=moves)


BACK_TO_QUEUE = {"patient": PatientStatus.WAITING, "returnee": ReturneeStatus.WAITING}


def record_batch_event(
    batch: Batch,
    *,
    action: str,
    actor,
    from_state: str,
    notify: bool = True,
    lines: Iterable[BatchMember] | None = None,
    details: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
    **reason: str,
) -> Event:
    """The batch's event; unless `notify` is off, its notifications to the people concerned,
    those on `lines` (by default the batch's open lines). `occurred_at`: see
    `batch_occurred_at`."""
    event = record_event(
        subject_type=SubjectType.BATCH,
        subject_ref=batch.code,
        batch_ref=batch.code,
        subject_facility_id=batch.staging_facility_id,
        action=action,
        from_state=from_state,
        to_state=batch.status,
        actor=actor,
        details=details,
        occurred_at=occurred_at,
        **reason,
    )
    if notify:
        notify_batch_event(event, batch, open_lines(batch) if lines is None else lines)
    return event


def record_line_event(
    line: BatchMember,
    *,
    action: str,
    actor,
    from_state: str = "",
    to_state: str = "",
    occurred_at: datetime | None = None,
    reason_text: str = "",
    **extra,
) -> Event:
    return record_event(
        reason_text=reason_text,
        subject_type=SubjectType.MEMBER,
        subject_ref=f"{line.batch.code}#{line.pk}",
        batch_ref=line.batch.code,
        # Returnee lines are filed under no facility, so hospital staff do not see them.
        subject_facility_id=None if line.returnee_id else line.batch.staging_facility_id,
        action=action,
        from_state=from_state,
        to_state=to_state,
        actor=actor,
        details={"person": line.person_reference, "kind": line.kind, **extra},
        occurred_at=occurred_at,
    )
