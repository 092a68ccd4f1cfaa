"""Batch transitions (DESIGN section 4). Each one: lock the batch, check the declared transition
and the rules, change the rows, write exactly one Event and its notification rows, all in one
transaction; notifications are delivered after commit."""

from collections.abc import Mapping
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from casetracker.audit.models import Action
from casetracker.audit.occurred import checked_occurred_at
from casetracker.errors import TransitionRefused, state_word
from patients.models import Patient, PatientStatus, Returnee, ReturneeStatus
from patients.services import patient_move, returnee_move

from .. import states
from ..models import (
    Batch,
    BatchMember,
    BatchStatus,
    CancelReason,
    Clearance,
    Crossing,
    Direction,
    EndReason,
    InformationSource,
    Outcome,
)
from .common import (
    BACK_TO_QUEUE,
    batch_occurred_at,
    close_lines,
    lock_batch,
    lock_people,
    open_lines,
    record_batch_event,
    too_long,
)
from .crossings import crossing_of
from .lines import LineKey, as_key, resolve_lines
from .rules import clear_problems, prepare_problems
from .statements import relay_problems
from .vehicles import departure_problems


def _next_code(crossing: Crossing, planned_date: date) -> str:
    prefix = f"{crossing.prefix}-{planned_date.isoformat()}-"
    taken = Batch.objects.filter(code__startswith=prefix).values_list("code", flat=True)
    numbers = [int(code.rsplit("-", 1)[1]) for code in taken]
    return f"{prefix}{max(numbers, default=0) + 1}"


def _insert_batch(**fields) -> Batch:
    """Insert with the next free code; retried when another coordinator took it meanwhile."""
    for _attempt in range(5):
        batch = Batch(code=_next_code(fields["crossing"], fields["planned_date"]), **fields)
        try:
            with transaction.atomic():
                batch.save()
            return batch
        except IntegrityError:
            if not Batch.objects.filter(code=batch.code).exists():
                raise
    raise TransitionRefused(_("could not allocate a batch code; try again"))


@transaction.atomic
def batch_create(
    *,
    actor,
    direction: str,
    planned_date: date,
    staging_facility,
    crossing: Crossing | str | None = None,
    occurred_at: datetime | None = None,
) -> Batch:
    """Open a draft batch for a day (at the default crossing, Rafah, unless one is given by
    instance or code). Its code reads the crossing's prefix, the date and the day's sequence.
    A draft may be opened for a closed crossing: `prepare` refuses it while it stays closed.

    Every transition takes `occurred_at`, when it happened (default: now), refused in the
    future and before the batch's latest event (`common.batch_occurred_at`)."""
    occurred_at = checked_occurred_at(occurred_at)
    if direction not in Direction.values:
        raise ValidationError(
            {"direction": _("must be one of %(values)s") % {"values": Direction.values}}
        )
    crossing = crossing_of(crossing)
    batch = _insert_batch(
        crossing=crossing,
        direction=direction,
        planned_date=planned_date,
        staging_facility=staging_facility,
        created_by=actor,
    )
    record_batch_event(
        batch,
        action=Action.CREATE,
        actor=actor,
        from_state="",
        notify=False,
        occurred_at=occurred_at,
    )
    return batch


def _move(
    batch: Batch,
    name: str,
    actor,
    *,
    lines=None,
    details: dict | None = None,
    occurred_at: datetime | None = None,
    **reason,
) -> Batch:
    from_state = batch.status
    batch.status = states.TRANSITIONS[name].target
    batch.save()
    record_batch_event(
        batch,
        action=name,
        actor=actor,
        from_state=from_state,
        lines=lines,
        details=details,
        occurred_at=occurred_at,
        **reason,
    )
    return batch


@transaction.atomic
def batch_prepare(*, batch: Batch, actor, occurred_at: datetime | None = None) -> Batch:
    """Draft -> prepared: every patient eligible and ready, companions within the limit, every
    child with a guardian, and the day's agreed quota not exceeded."""
    batch = lock_batch(batch)
    states.check("prepare", batch)
    occurred_at = batch_occurred_at(batch, occurred_at)
    lines = list(open_lines(batch))
    problems = prepare_problems(batch, lines, occurred_at=occurred_at)
    if problems:
        raise TransitionRefused(problems)
    return _move(
        batch, "prepare", actor, lines=lines, details=_counts(lines), occurred_at=occurred_at
    )


@transaction.atomic
def batch_reopen(*, batch: Batch, actor, occurred_at: datetime | None = None) -> Batch:
    """Prepared -> draft, to change the list before it is submitted."""
    batch = lock_batch(batch)
    states.check("reopen", batch)
    occurred_at = batch_occurred_at(batch, occurred_at)
    return _move(batch, "reopen", actor, occurred_at=occurred_at)


@transaction.atomic
def batch_submit(*, batch: Batch, actor, occurred_at: datetime | None = None) -> Batch:
    """Prepared -> submitted: the list went to the border authority for security vetting."""
    batch = lock_batch(batch)
    states.check("submit", batch)
    occurred_at = batch_occurred_at(batch, occurred_at)
    lines = list(open_lines(batch))
    return _move(
        batch, "submit", actor, lines=lines, details=_counts(lines), occurred_at=occurred_at
    )


@transaction.atomic
def batch_clear(*, batch: Batch, actor, occurred_at: datetime | None = None) -> Batch:
    """Submitted -> cleared. Rejected people do not travel: a rejected patient goes back to the
    queue with their companions, keeping their registration time."""
    batch = lock_batch(batch)
    states.check("clear", batch)
    occurred_at = batch_occurred_at(batch, occurred_at)
    lock_people(batch)
    lines = list(open_lines(batch))
    problems = clear_problems(batch, lines)
    if problems:
        raise TransitionRefused(problems)
    rejected_patients = {
        line.patient_id
        for line in lines
        if line.patient_id and line.clearance == Clearance.REJECTED
    }
    staying = [
        line
        for line in lines
        if line.clearance == Clearance.REJECTED
        or (line.companion_id and line.companion.patient_id in rejected_patients)
    ]
    close_lines(staying, EndReason.REJECTED, person_status=BACK_TO_QUEUE)
    travelling = [line for line in lines if line not in staying]
    details = _counts(travelling)
    details["not_cleared"] = [line.person_reference for line in staying]
    # Only those cleared to travel hear "you are cleared"; the others are told by a person.
    return _move(batch, "clear", actor, lines=travelling, details=details, occurred_at=occurred_at)


@transaction.atomic
def batch_depart(*, batch: Batch, actor, occurred_at: datetime | None = None) -> Batch:
    """Cleared -> in transit: the ambulances left the staging facility. Once a batch has
    vehicles, everyone travelling must be in one, within its seats and stretcher places; a
    batch with no vehicle recorded departs without that check."""
    batch = lock_batch(batch)
    states.check("depart", batch)
    occurred_at = batch_occurred_at(batch, occurred_at)
    lines = list(open_lines(batch))
    main = "patient" if batch.direction == Direction.EXIT else "returnee"
    if not any(line.kind == main for line in lines):
        if main == "patient":
            message = _("batch %(code)s has no patient cleared to travel: cancel it")
        else:
            message = _("batch %(code)s has no returnee cleared to travel: cancel it")
        raise TransitionRefused(message % {"code": batch.code})
    if problems := departure_problems(batch):
        raise TransitionRefused(problems)
    return _move(
        batch, "depart", actor, lines=lines, details=_counts(lines), occurred_at=occurred_at
    )


def _crossed_status(line: BatchMember) -> str:
    crossed = line.outcome == Outcome.CROSSED
    if line.kind == "patient":
        return PatientStatus.EVACUATED if crossed else PatientStatus.WAITING
    return ReturneeStatus.RETURNED if crossed else ReturneeStatus.WAITING


@transaction.atomic
def batch_cross(
    *,
    batch: Batch,
    actor,
    outcomes: Mapping["int | LineKey", str],
    occurred_at: datetime | None = None,
) -> Batch:
    """In transit -> crossed, with the outcome of every person on board: `outcomes` maps a
    line (its id, or a `LineKey` naming the person or companion on it) to an outcome.
    Patients who crossed are evacuated; the others go back to the queue in their old place."""
    batch = lock_batch(batch)
    states.check("cross", batch)
    occurred_at = batch_occurred_at(batch, occurred_at)
    lock_people(batch)
    lines = list(open_lines(batch))
    found, errors = resolve_lines(batch, outcomes, lines, on_board=True)
    decided = {line.pk: outcomes[key] for key, line in found.items()}
    missing = [line.reference for line in lines if line.pk not in decided]
    if missing:
        errors.append(_("no outcome for %(people)s") % {"people": ", ".join(missing)})
    invalid = [f"{as_key(k)}: {v}" for k, v in outcomes.items() if v not in Outcome.values]
    if invalid:
        errors.append(
            _("unknown outcomes %(invalid)s; use one of %(values)s")
            % {"invalid": ", ".join(invalid), "values": Outcome.values}
        )
    if errors:
        raise ValidationError({"outcomes": errors})
    for line in lines:
        line.outcome = decided[line.pk]
    close_lines(
        lines,
        EndReason.COMPLETED,
        person_status={"patient": _crossed_status, "returnee": _crossed_status},
    )
    details = _counts(lines)
    details["outcomes"] = {
        outcome: sum(1 for line in lines if line.outcome == outcome) for outcome in Outcome.values
    }
    return _move(batch, "cross", actor, lines=lines, details=details, occurred_at=occurred_at)


@transaction.atomic
def batch_cancel(
    *,
    batch: Batch,
    actor,
    reason_code: str,
    reason_text: str,
    source: str,
    relayed_by: str = "",
    occurred_at: datetime | None = None,
) -> Batch:
    """Any open state -> cancelled, with a reason code, a text, who decided it (`source`) and
    who relayed the decision to us (`relayed_by`; blank: we heard it from them directly).
    Everyone on board goes back to the queue with their place kept; everyone concerned is
    notified. `cancelled_at` is when it happened (`occurred_at`), which the reports read."""
    errors = relay_problems(source, relayed_by)
    if reason_code not in CancelReason.values:
        errors["reason_code"] = _("must be one of %(values)s") % {"values": CancelReason.values}
    if not (reason_text or "").strip():
        errors["reason_text"] = _("say what happened, even if no reason was given")
    elif problem := too_long(Batch, "cancel_reason_text", reason_text.strip()):
        errors["reason_text"] = problem
    if source not in InformationSource.values:
        errors["source"] = _("must be one of %(values)s") % {"values": InformationSource.values}
    if errors:
        raise ValidationError(errors)
    batch = lock_batch(batch)
    states.check("cancel", batch)
    occurred_at = batch_occurred_at(batch, occurred_at)
    lock_people(batch)
    lines = list(open_lines(batch))
    close_lines(lines, EndReason.CANCELLED, person_status=BACK_TO_QUEUE)
    batch.cancel_reason_code = reason_code
    batch.cancel_reason_text = reason_text.strip()
    batch.cancel_source = source
    batch.cancel_relayed_by = relayed_by
    batch.cancelled_from = batch.status
    batch.cancelled_at = occurred_at or timezone.now()
    return _move(
        batch,
        "cancel",
        actor,
        lines=lines,
        # Who relayed it is chained with the rest (details are in the event's hash).
        details={**_counts(lines), "relayed_by": relayed_by},
        occurred_at=batch.cancelled_at,
        reason_code=reason_code,
        reason_text=batch.cancel_reason_text,
        source=source,
    )


@transaction.atomic
def batch_reschedule(
    *,
    batch: Batch,
    actor,
    planned_date: date,
    staging_facility=None,
    occurred_at: datetime | None = None,
) -> Batch:
    """A cancelled batch -> a new draft with the same people, for a day from the cancelled
    batch's own day on (a cancellation recorded late may be rescheduled to a day already past,
    or to the same day). People who since joined another batch, or are no longer waiting, are
    left out and listed in the event."""
    old = lock_batch(batch)
    if old.status != BatchStatus.CANCELLED:
        raise TransitionRefused(
            _("batch %(code)s is %(status)s: only a cancelled batch is rescheduled")
            % {"code": old.code, "status": state_word(old.status)}
        )
    if Batch.objects.filter(rescheduled_from=old).exists():
        raise TransitionRefused(
            _("batch %(code)s was already rescheduled as %(new)s")
            % {"code": old.code, "new": old.rescheduled_as.code}
        )
    if planned_date < old.planned_date:
        raise ValidationError(
            {
                "planned_date": _("the new date is before %(day)s, the day of batch %(code)s")
                % {"day": old.planned_date.isoformat(), "code": old.code}
            }
        )
    occurred_at = batch_occurred_at(old, occurred_at)
    new = _insert_batch(
        crossing=old.crossing,
        direction=old.direction,
        planned_date=planned_date,
        staging_facility=staging_facility or old.staging_facility,
        rescheduled_from=old,
        created_by=actor,
    )
    carried, skipped = _carry_people(old, new)
    details = {**_counts(carried), "rescheduled_from": old.code, "left_out": skipped}
    record_batch_event(
        new,
        action=Action.RESCHEDULE,
        actor=actor,
        from_state="",
        lines=carried,
        details=details,
        occurred_at=occurred_at,
    )
    return new


def _carry_people(old: Batch, new: Batch) -> tuple[list[BatchMember], list[str]]:
    carried, skipped = [], []
    previous = old.members.filter(end_reason=EndReason.CANCELLED).select_related(
        "patient", "companion__patient", "returnee"
    )
    patients_back = set()
    for line in previous.order_by("id"):
        if line.patient_id:
            patient = Patient.objects.select_for_update().get(pk=line.patient_id)
            if patient.status != PatientStatus.WAITING:
                skipped.append(line.person_reference)
                continue
            patient_move(patient=patient, to=PatientStatus.SCHEDULED)
            carried.append(BatchMember.objects.create(batch=new, patient=patient))
            patients_back.add(patient.pk)
        elif line.returnee_id:
            returnee = Returnee.objects.select_for_update().get(pk=line.returnee_id)
            if returnee.status != ReturneeStatus.WAITING:
                skipped.append(line.person_reference)
                continue
            returnee_move(returnee=returnee, to=ReturneeStatus.SCHEDULED)
            carried.append(BatchMember.objects.create(batch=new, returnee=returnee))
    for line in previous.filter(companion__isnull=False).order_by("id"):
        if line.companion.patient_id in patients_back:
            carried.append(BatchMember.objects.create(batch=new, companion=line.companion))
        else:
            skipped.append(line.person_reference)
    return carried, skipped


def _counts(lines: list[BatchMember]) -> dict:
    return {
        "patients": sum(1 for line in lines if line.patient_id),
        "companions": sum(1 for line in lines if line.companion_id),
        "returnees": sum(1 for line in lines if line.returnee_id),
    }
