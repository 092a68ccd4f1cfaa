"""Report selectors beyond the known-numbers scenario: what hospital staff may see of a
cancelled return batch, and waits that began with a referral that later expired."""

import datetime as dt

from batches import services
from batches.reports.selectors import (
    Period,
    cancellations,
    patient_journey,
    referral_to_crossing,
)
from tests import factories
from tests.service_helpers import advance


def test_cancellations_hide_returnees_from_hospital_staff(facility, coordinator, nurse, auditor):
    batch = services.batch_create(
        actor=coordinator,
        direction="return",
        planned_date=dt.date.today(),
        staging_facility=facility,
    )
    returnee = factories.ReturneeFactory()
    services.batch_add_returnee(batch=batch, returnee=returnee, actor=coordinator)
    services.batch_cancel(
        batch=batch, actor=coordinator, reason_code="security", reason_text="closed", source="who"
    )

    [seen_by_auditor] = cancellations(auditor)
    assert (seen_by_auditor.returnees, seen_by_auditor.people) == (1, [returnee.reference])
    [seen_by_nurse] = cancellations(nurse)
    assert (seen_by_nurse.returnees, seen_by_nurse.people) == (0, [])


def test_waits_count_from_a_referral_that_expired_meanwhile(
    facility, quota, coordinator, auditor, ready_patient, today
):
    patient = ready_patient()  # an approved referral issued 30 days ago
    factories.ReferralFactory(
        patient=patient,
        issued_on=today - dt.timedelta(days=200),
        expires_on=today - dt.timedelta(days=20),
        status="expired",
    )
    batch = services.batch_create(
        actor=coordinator, direction="exit", planned_date=quota.date, staging_facility=facility
    )
    services.batch_add_patient(batch=batch, patient=patient, actor=coordinator)
    batch = advance(batch, "crossed", coordinator)

    journey = patient_journey(auditor, patient)
    assert journey.referral_issued_on == today - dt.timedelta(days=200)
    assert journey.days_since_referral == (quota.date - today).days + 200
    wait = referral_to_crossing(auditor, period=Period(quota.date, quota.date))
    assert (wait.patients, wait.median_days) == (1, (quota.date - today).days + 200)
