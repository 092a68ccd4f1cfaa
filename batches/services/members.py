"""Manifest lines: adding and removing people while a batch is a draft, and recording the
security clearance of each person once the list is submitted."""

from collections.abc import Sequence

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from casetracker.audit.models import Action
from casetracker.errors import TransitionRefused
from patients.models import (
    Companion,
    Patient,
    PatientStatus,
    Referral,
    Returnee,
    ReturneeStatus,
)
from patients.services import patient_move, returnee_move

from ..models import Batch, BatchMember, BatchStatus, Clearance, Direction
from .common import lock_batch, record_line_event, too_long


def _require_draft(batch: Batch) -> None:
    if batch.status != BatchStatus.DRAFT:
        raise TransitionRefused(
            f"batch {batch.code} is {batch.status}: people are added or removed only in a draft"
        )


def _require_direction(batch: Batch, direction: str) -> None:
    if batch.direction != direction:
        kind = "patients and companions" if direction == Direction.EXIT else "returnees"
        raise TransitionRefused(
            f"batch {batch.code} is a {batch.direction} batch: {kind} cannot join it"
        )


def _open_batch_of(**person) -> str:
    line = BatchMember.objects.filter(is_open=True, **person).select_related("batch").first()
    return line.batch.code if line else "another batch"


def _create_line(batch: Batch, **person) -> BatchMember:
    """Insert a line; the partial unique constraint is the last word when two coordinators add
    the same person at the same moment."""
    try:
        with transaction.atomic():
            return BatchMember.objects.create(batch=batch, **person)
    except IntegrityError as exc:
        raise TransitionRefused(
            f"{next(iter(person.values()))} is already in open batch {_open_batch_of(**person)}"
        ) from exc


def _line_of(batch: Batch, member: BatchMember, *, lock: bool = False) -> BatchMember:
    lines = BatchMember.objects.select_related("batch", "patient", "companion__patient", "returnee")
    if lock:
        # `of`: PostgreSQL cannot lock the nullable side of the outer joins; the line is enough.
        lines = lines.select_for_update(of=("self",))
    line = lines.filter(pk=member.pk, batch=batch).first()
    if line is None:
        raise ValidationError({"member": f"line {member.pk} is not on batch {batch.code}"})
    return line


def _check_companions(patient: Patient, companions: Sequence[Companion], already: int) -> None:
    ids = [c.pk for c in companions]
    if len(set(ids)) != len(ids):
        raise ValidationError({"companions": "the same companion is listed twice"})
    strangers = [c.pk for c in companions if c.patient_id != patient.pk]
    if strangers:
        raise ValidationError(
            {"companions": f"companions {strangers} are not companions of {patient.case_reference}"}
        )
    if already + len(companions) > settings.MAX_COMPANIONS_PER_PATIENT:
        raise ValidationError(
            {
                "companions": f"at most {settings.MAX_COMPANIONS_PER_PATIENT} companions may "
                f"travel with a patient; {patient.case_reference} would have "
                f"{already + len(companions)}"
            }
        )


@transaction.atomic
def batch_add_patient(
    *, batch: Batch, patient: Patient, actor, companions: Sequence[Companion] = ()
) -> list[BatchMember]:
    """Put a waiting patient, with up to the allowed number of companions, on a draft exit batch.
    The patient must hold a referral approved and valid on the planned date; readiness is checked
    when the batch is prepared, since it may still change."""
    batch = lock_batch(batch)
    _require_draft(batch)
    _require_direction(batch, Direction.EXIT)
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    ref = patient.case_reference
    if patient.status == PatientStatus.SCHEDULED:
        raise TransitionRefused(
            f"patient {ref} is already in open batch {_open_batch_of(patient=patient)}"
        )
    if patient.status != PatientStatus.WAITING:
        raise TransitionRefused(f"patient {ref} is {patient.status}, not waiting")
    if not Referral.objects.valid_on(batch.planned_date).filter(patient=patient).exists():
        raise TransitionRefused(
            f"patient {ref} has no approved referral valid on {batch.planned_date.isoformat()}"
        )
    _check_companions(patient, companions, already=0)
    lines = [_create_line(batch, patient=patient)]
    lines += [_create_line(batch, companion=c) for c in companions]
    patient_move(patient=patient, to=PatientStatus.SCHEDULED)
    record_line_event(
        lines[0],
        action=Action.ADD_MEMBER,
        actor=actor,
        to_state="open",
        companions=[line.pk for line in lines[1:]],
    )
    return lines


@transaction.atomic
def batch_add_companion(*, batch: Batch, companion: Companion, actor) -> BatchMember:
    """Add a companion of a patient who is already on this draft batch."""
    batch = lock_batch(batch)
    _require_draft(batch)
    patient = companion.patient
    if not batch.members.filter(is_open=True, patient=patient).exists():
        raise TransitionRefused(
            f"patient {patient.case_reference} is not on batch {batch.code}: add the patient first"
        )
    already = batch.members.filter(is_open=True, companion__patient=patient).count()
    _check_companions(patient, [companion], already=already)
    line = _create_line(batch, companion=companion)
    record_line_event(line, action=Action.ADD_MEMBER, actor=actor, to_state="open")
    return line


@transaction.atomic
def batch_add_returnee(*, batch: Batch, returnee: Returnee, actor) -> BatchMember:
    """Put a waiting returnee on a draft return batch."""
    batch = lock_batch(batch)
    _require_draft(batch)
    _require_direction(batch, Direction.RETURN)
    returnee = Returnee.objects.select_for_update().get(pk=returnee.pk)
    if returnee.status == ReturneeStatus.SCHEDULED:
        raise TransitionRefused(
            f"returnee {returnee.reference} is already in open batch "
            f"{_open_batch_of(returnee=returnee)}"
        )
    if returnee.status != ReturneeStatus.WAITING:
        raise TransitionRefused(f"returnee {returnee.reference} is {returnee.status}, not waiting")
    line = _create_line(batch, returnee=returnee)
    returnee_move(returnee=returnee, to=ReturneeStatus.SCHEDULED)
    record_line_event(line, action=Action.ADD_MEMBER, actor=actor, to_state="open")
    return line


@transaction.atomic
def batch_remove_member(*, batch: Batch, member: BatchMember, actor) -> None:
    """Take a line off a draft. A patient leaves with their companions and goes back to the
    queue with their original registration time."""
    batch = lock_batch(batch)
    _require_draft(batch)
    member = _line_of(batch, member)
    removed = [member]
    if member.patient_id:
        removed += list(batch.members.filter(is_open=True, companion__patient=member.patient_id))
        patient = Patient.objects.select_for_update().get(pk=member.patient_id)
        patient_move(patient=patient, to=PatientStatus.WAITING)
    elif member.returnee_id:
        returnee = Returnee.objects.select_for_update().get(pk=member.returnee_id)
        returnee_move(returnee=returnee, to=ReturneeStatus.WAITING)
    record_line_event(
        member,
        action=Action.REMOVE_MEMBER,
        actor=actor,
        from_state="open",
        companions=[line.pk for line in removed[1:]],
    )
    BatchMember.objects.filter(pk__in=[line.pk for line in removed]).delete()


@transaction.atomic
def batch_record_clearance(
    *, batch: Batch, member: BatchMember, clearance: str, actor, note: str = ""
) -> BatchMember:
    """Record the border authority's vetting decision for one person on a submitted batch.
    A decision may be corrected until the batch is cleared."""
    errors = {}
    if clearance not in (Clearance.APPROVED, Clearance.REJECTED):
        errors["clearance"] = "must be approved or rejected"
    note = note or ""
    if problem := too_long(BatchMember, "clearance_note", note):
        errors["note"] = problem
    if errors:
        raise ValidationError(errors)
    batch = lock_batch(batch)
    if batch.status != BatchStatus.SUBMITTED:
        raise TransitionRefused(
            f"batch {batch.code} is {batch.status}: clearance is recorded only once it is submitted"
        )
    member = _line_of(batch, member, lock=True)
    if not member.is_open:
        raise TransitionRefused(f"line {member.reference} is closed")
    old = member.clearance
    member.clearance = clearance
    member.clearance_note = note
    member.clearance_recorded_at = timezone.now()
    member.save(update_fields=["clearance", "clearance_note", "clearance_recorded_at"])
    record_line_event(
        member, action=Action.CLEARANCE, actor=actor, from_state=old, to_state=clearance
    )
    return member
