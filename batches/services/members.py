"""Manifest lines: adding and removing people while a batch is a draft, and recording the
security clearance of each person once the list is submitted."""

from collections.abc import Sequence
from datetime import date, datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from casetracker.audit.models import Action
from casetracker.errors import TransitionRefused, state_word
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
from .common import batch_occurred_at, lock_batch, record_line_event, too_long
from .lifecycle import batch_create


def _require_draft(batch: Batch) -> None:
    if batch.status != BatchStatus.DRAFT:
        raise TransitionRefused(
            _("batch %(code)s is %(status)s: people are added or removed only in a draft")
            % {"code": batch.code, "status": state_word(batch.status)}
        )


def _require_direction(batch: Batch, direction: str) -> None:
    if batch.direction != direction:
        if direction == Direction.EXIT:
            message = _("batch %(code)s is a return batch: patients and companions cannot join it")
        else:
            # "a exit": the English every API client has matched since the first release.
            message = _("batch %(code)s is a exit batch: returnees cannot join it")
        raise TransitionRefused(message % {"code": batch.code})


def _open_batch_of(**person) -> str:
    line = BatchMember.objects.filter(is_open=True, **person).select_related("batch").first()
    return line.batch.code if line else _("another batch")


def _create_line(batch: Batch, **person) -> BatchMember:
    """Insert a line; the partial unique constraint is the last word when two coordinators add
    the same person at the same moment."""
    try:
        with transaction.atomic():
            return BatchMember.objects.create(batch=batch, **person)
    except IntegrityError as exc:
        raise TransitionRefused(
            _("%(person)s is already in open batch %(code)s")
            % {"person": next(iter(person.values())), "code": _open_batch_of(**person)}
        ) from exc


def _line_of(batch: Batch, member: BatchMember, *, lock: bool = False) -> BatchMember:
    lines = BatchMember.objects.select_related("batch", "patient", "companion__patient", "returnee")
    if lock:
        # `of`: PostgreSQL cannot lock the nullable side of the outer joins; the line is enough.
        lines = lines.select_for_update(of=("self",))
    line = lines.filter(pk=member.pk, batch=batch).first()
    if line is None:
        raise ValidationError(
            {
                "member": _("line %(line)s is not on batch %(code)s")
                % {"line": member.pk, "code": batch.code}
            }
        )
    return line


def _check_companions(patient: Patient, companions: Sequence[Companion], already: int) -> None:
    ids = [c.pk for c in companions]
    if len(set(ids)) != len(ids):
        raise ValidationError({"companions": _("the same companion is listed twice")})
    strangers = [c.pk for c in companions if c.patient_id != patient.pk]
    if strangers:
        raise ValidationError(
            {
                "companions": _("companions %(ids)s are not companions of %(ref)s")
                % {"ids": strangers, "ref": patient.case_reference}
            }
        )
    if already + len(companions) > settings.MAX_COMPANIONS_PER_PATIENT:
        raise ValidationError(
            {
                "companions": _(
                    "at most %(limit)s companions may travel with a patient; "
                    "%(ref)s would have %(count)s"
                )
                % {
                    "limit": settings.MAX_COMPANIONS_PER_PATIENT,
                    "ref": patient.case_reference,
                    "count": already + len(companions),
                }
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
            _("patient %(ref)s is already in open batch %(code)s")
            % {"ref": ref, "code": _open_batch_of(patient=patient)}
        )
    if patient.status != PatientStatus.WAITING:
        raise TransitionRefused(
            _("patient %(ref)s is %(status)s, not waiting")
            % {"ref": ref, "status": state_word(patient.status)}
        )
    if not Referral.objects.valid_on(batch.planned_date).filter(patient=patient).exists():
        raise TransitionRefused(
            _("patient %(ref)s has no approved referral valid on %(day)s")
            % {"ref": ref, "day": batch.planned_date.isoformat()}
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


def _naming(reference: str, exc: TransitionRefused | ValidationError):
    """The same refusal, each message naming the person it is about."""

    def named(message: str) -> str:
        return message if reference in message else f"{reference}: {message}"

    if isinstance(exc, TransitionRefused):
        return TransitionRefused([named(p) for p in exc.problems])
    if hasattr(exc, "error_dict"):
        return ValidationError(
            {field: [named(m) for m in messages] for field, messages in exc.message_dict.items()}
        )
    return ValidationError([named(m) for m in exc.messages])


@transaction.atomic
def batch_create_draft(
    *,
    actor,
    crossing: str,
    direction: str,
    planned_date: date,
    staging_facility,
    patients: Sequence[tuple[Patient, Sequence[Companion]]] = (),
    returnees: Sequence[Returnee] = (),
) -> Batch:
    """A draft batch with its people, all or nothing (the batch builder's "save"). Lines are
    written in the order given, so the manifest lists people in the order the coordinator
    chose. Writes the events of `batch_create` and of each `batch_add_patient` and
    `batch_add_returnee`; every refusal names the person it is about."""
    seen: set[str] = set()
    for reference in [p.case_reference for p, _companions in patients] + [
        r.reference for r in returnees
    ]:
        if reference in seen:
            raise ValidationError({"people": _("%(ref)s is listed twice") % {"ref": reference}})
        seen.add(reference)
    batch = batch_create(
        actor=actor,
        crossing=crossing,
        direction=direction,
        planned_date=planned_date,
        staging_facility=staging_facility,
    )
    for patient, companions in patients:
        try:
            batch_add_patient(batch=batch, patient=patient, companions=companions, actor=actor)
        except (TransitionRefused, ValidationError) as exc:
            raise _naming(patient.case_reference, exc) from exc
    for returnee in returnees:
        try:
            batch_add_returnee(batch=batch, returnee=returnee, actor=actor)
        except (TransitionRefused, ValidationError) as exc:
            raise _naming(returnee.reference, exc) from exc
    return batch


@transaction.atomic
def batch_add_companion(*, batch: Batch, companion: Companion, actor) -> BatchMember:
    """Add a companion of a patient who is already on this draft batch."""
    batch = lock_batch(batch)
    _require_draft(batch)
    patient = companion.patient
    if not batch.members.filter(is_open=True, patient=patient).exists():
        raise TransitionRefused(
            _("patient %(ref)s is not on batch %(code)s: add the patient first")
            % {"ref": patient.case_reference, "code": batch.code}
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
            _("returnee %(ref)s is already in open batch %(code)s")
            % {"ref": returnee.reference, "code": _open_batch_of(returnee=returnee)}
        )
    if returnee.status != ReturneeStatus.WAITING:
        raise TransitionRefused(
            _("returnee %(ref)s is %(status)s, not waiting")
            % {"ref": returnee.reference, "status": state_word(returnee.status)}
        )
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
    *,
    batch: Batch,
    member: BatchMember,
    clearance: str,
    actor,
    note: str = "",
    occurred_at: datetime | None = None,
) -> BatchMember:
    """Record the border authority's vetting decision for one person on a submitted batch.
    A decision may be corrected until the batch is cleared. `occurred_at` is when it was
    decided (default: now; see `common.batch_occurred_at`); `clearance_recorded_at` holds it."""
    errors = {}
    if clearance not in (Clearance.APPROVED, Clearance.REJECTED):
        errors["clearance"] = _("must be approved or rejected")
    note = note or ""
    if problem := too_long(BatchMember, "clearance_note", note):
        errors["note"] = problem
    if errors:
        raise ValidationError(errors)
    batch = lock_batch(batch)
    if batch.status != BatchStatus.SUBMITTED:
        raise TransitionRefused(
            _("batch %(code)s is %(status)s: clearance is recorded only once it is submitted")
            % {"code": batch.code, "status": state_word(batch.status)}
        )
    member = _line_of(batch, member, lock=True)
    if not member.is_open:
        raise TransitionRefused(_("line %(line)s is closed") % {"line": member.reference})
    occurred_at = batch_occurred_at(batch, occurred_at)
    old = member.clearance
    member.clearance = clearance
    member.clearance_note = note
    # The decision's time, as every time a domain row holds: when it occurred (the event
    # keeps when it was recorded too).
    member.clearance_recorded_at = occurred_at or timezone.now()
    member.save(update_fields=["clearance", "clearance_note", "clearance_recorded_at"])
    record_line_event(
        member,
        action=Action.CLEARANCE,
        actor=actor,
        from_state=old,
        to_state=clearance,
        occurred_at=member.clearance_recorded_at,
        # The note is kept beside the event (redactable: it may name someone).
        reason_text=note,
    )
    return member
