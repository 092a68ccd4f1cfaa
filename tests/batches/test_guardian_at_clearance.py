import datetime as dt

import pytest
from django.utils import timezone

from batches.services import (
    batch_add_patient,
    batch_clear,
    batch_prepare,
    batch_record_clearance,
    batch_submit,
)
from casetracker.errors import TransitionRefused
from tests import factories

pytestmark = pytest.mark.django_db


def test_batch_clear_needs_a_guardian_who_is_adult_on_the_planned_date(coordinator, facility):
    # A batch recorded after the fact, two years back: the second guardian is an adult today
    # but was 17 on the planned date.
    day = timezone.localdate() - dt.timedelta(days=730)
    factories.QuotaFactory(date=day)
    child = factories.PatientFactory(facility=facility, date_of_birth=day - dt.timedelta(days=3000))
    # Issued before the planned day: a referral is valid from its issue date only.
    factories.ReferralFactory(patient=child, issued_on=day - dt.timedelta(days=30))
    adult = factories.CompanionFactory(patient=child, is_guardian=True)
    young = factories.CompanionFactory(
        patient=child, is_guardian=True, date_of_birth=day - dt.timedelta(days=17 * 365 + 30)
    )
    batch = factories.BatchFactory(staging_facility=facility, planned_date=day)
    batch_add_patient(batch=batch, patient=child, companions=[adult, young], actor=coordinator)
    batch = batch_submit(batch=batch_prepare(batch=batch, actor=coordinator), actor=coordinator)
    decisions = {
        ("patient", child.pk): "approved",
        ("companion", adult.pk): "rejected",
        ("companion", young.pk): "approved",
    }
    for line in batch.members.all():
        person = (line.kind, line.patient_id or line.companion_id)
        batch_record_clearance(
            batch=batch, member=line, clearance=decisions[person], actor=coordinator
        )
    with pytest.raises(TransitionRefused, match="is a child and no guardian was cleared"):
        batch_clear(batch=batch, actor=coordinator)
