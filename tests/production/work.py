"""A day of work through the services, committed (the tests here use `transaction=True`): what a
production database holds and what its audit log must prove, for the database-role and the
backup tests."""

from dataclasses import dataclass

from django.utils import timezone
from rest_framework.test import APIClient

from batches.models import Batch
from batches.services import (
    batch_add_patient,
    batch_cancel,
    batch_create,
    batch_prepare,
    batch_submit,
)
from casetracker.audit.models import Event
from casetracker.audit.redaction import text_redact
from casetracker.audit.tasks import seal_access_log
from tests import factories

NAMED = "Cancelled: Ahmad Haddad, the patient's uncle, has no papers."


@dataclass(frozen=True)
class Day:
    cancelled: Batch
    submitted: Batch
    # The patient of `submitted`, whose record was read.
    submitted_case: str
    national_id: str


def a_day_of_work(*, coordinator, admin, facility) -> Day:
    """Two batches moved through the services (one cancelled with a text that names someone,
    which an admin redacts), a patient record read through the API (the access log) and the
    access lanes sealed into the main chain, as the beat does."""
    # The beat's first run opens the access lanes (a flush after an earlier test empties them).
    seal_access_log()
    factories.QuotaFactory()
    batches = []
    for _ in range(2):
        batch = batch_create(
            actor=coordinator,
            direction="exit",
            planned_date=timezone.localdate(),
            staging_facility=facility,
        )
        patient = factories.PatientFactory(facility=facility)
        factories.ReferralFactory(patient=patient)
        companion = factories.CompanionFactory(patient=patient)
        batch_add_patient(batch=batch, patient=patient, actor=coordinator, companions=[companion])
        batch_prepare(batch=batch, actor=coordinator)
        batches.append(batch_submit(batch=batch, actor=coordinator))
    cancelled, submitted = batches
    cancelled = batch_cancel(
        batch=cancelled,
        actor=coordinator,
        reason_code="security",
        reason_text=NAMED,
        source="border_authority",
        relayed_by="who",
    )
    cancel = Event.objects.get(subject_ref=cancelled.code, action="cancel")
    text_redact(text_id=cancel.pk, actor=admin, reason="names a relative")
    patient = submitted.members.get(patient__isnull=False).patient
    client = APIClient()
    client.force_authenticate(coordinator)
    answer = client.get(f"/api/v1/patients/{patient.case_reference}/")
    assert answer.status_code == 200, answer.content
    seal_access_log()
    return Day(
        cancelled=cancelled,
        submitted=submitted,
        submitted_case=patient.case_reference,
        national_id=patient.national_id,
    )
