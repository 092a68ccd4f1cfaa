"""The ward (hospital staff): the cases of a facility on a batch still to leave, those waiting,
and one case's card. Batch data is reached through `Patient.lines`, never by importing
`batches`."""

from datetime import date

from django.db.models import F
from django.utils import timezone

from ..models import Patient, PatientQuerySet, PatientStatus
from .queue import with_queue_columns

# Batches still to leave: their stored status values (batches.models.BatchStatus, not imported).
OPEN_BATCH_STATES = ("draft", "prepared", "submitted", "cleared")


def _ward_base(user, facility_id: int | None) -> PatientQuerySet:
    patients = Patient.objects.visible_to(user)
    if facility_id:
        patients = patients.filter(facility_id=facility_id)
    return patients


def ward_scheduled(
    user, *, facility_id: int | None = None, on: date | None = None
) -> PatientQuerySet:
    """Cases the user may see on a batch still to leave (planned `on` or later), by planned
    date, batch code and queue order, each with `batch_code` and `planned_date`."""
    on = on or timezone.localdate()
    # One filter() call: the annotations below reuse its join to the one open line per case.
    patients = _ward_base(user, facility_id).filter(
        lines__is_open=True,
        lines__batch__status__in=OPEN_BATCH_STATES,
        lines__batch__planned_date__gte=on,
    )
    patients = patients.annotate(
        batch_code=F("lines__batch__code"), planned_date=F("lines__batch__planned_date")
    )
    # Within a batch, the queue order (`queue_order` names its priority rank "priority_rank").
    ordered = patients.queue_order().order_by(
        "planned_date", "batch_code", "priority_rank", "registered_at", "id"
    )
    return with_queue_columns(ordered)


def ward_waiting(user, *, facility_id: int | None = None) -> PatientQuerySet:
    """Waiting cases the user may see, in queue order."""
    patients = _ward_base(user, facility_id).filter(status=PatientStatus.WAITING)
    return with_queue_columns(patients.queue_order())


def ward_card(user, case_reference: str, *, on: date | None = None) -> Patient | None:
    """One case for its ward card, with `batch_code` and `planned_date` when it is on a batch
    still to leave (else None)."""
    on = on or timezone.localdate()
    patient = (
        with_queue_columns(Patient.objects.visible_to(user))
        .filter(case_reference=case_reference)
        .first()
    )
    if patient is None:
        return None
    line = (
        patient.lines.filter(
            is_open=True, batch__status__in=OPEN_BATCH_STATES, batch__planned_date__gte=on
        )
        .values_list("batch__code", "batch__planned_date")
        .first()
    )
    patient.batch_code, patient.planned_date = line or (None, None)
    return patient
