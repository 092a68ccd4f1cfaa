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
from patients import services as patient_services
from patients.models import Patient
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


def test_cancellations_count_a_crossing_before_the_old_planned_day(
    facility, coordinator, auditor, ready_patient, today
):
    """News of a cancellation a week ahead; the patient crosses on another batch today."""
    patient = ready_patient()
    for day in (today, today + dt.timedelta(days=7)):
        factories.QuotaFactory(date=day)
    planned = services.batch_create(
        actor=coordinator,
        direction="exit",
        planned_date=today + dt.timedelta(days=7),
        staging_facility=facility,
    )
    services.batch_add_patient(batch=planned, patient=patient, actor=coordinator)
    services.batch_cancel(
        batch=planned, actor=coordinator, reason_code="other", reason_text="moved", source="who"
    )
    today_batch = services.batch_create(
        actor=coordinator, direction="exit", planned_date=today, staging_facility=facility
    )
    services.batch_add_patient(batch=today_batch, patient=patient, actor=coordinator)
    advance(today_batch, "crossed", coordinator)

    [row] = cancellations(auditor)
    assert (row.crossed_later, row.last_crossed_on, row.still_waiting) == (1, today, 0)


def test_journey_wait_stops_at_death_and_lists_a_batch_left_before_it(
    facility, coordinator, auditor, ready_patient, today
):
    patient = ready_patient()
    batch = services.batch_create(
        actor=coordinator, direction="exit", planned_date=today, staging_facility=facility
    )
    line, *_companions = services.batch_add_patient(batch=batch, patient=patient, actor=coordinator)
    services.batch_remove_member(batch=batch, member=line, actor=coordinator)
    patient_services.patient_set_status(patient=patient, status="deceased", actor=coordinator)
    Patient.objects.filter(pk=patient.pk).update(  # setup: registered 30 days ago
        registered_at=patient.registered_at - dt.timedelta(days=30)
    )
    patient.refresh_from_db()

    journey = patient_journey(auditor, patient)
    assert [(s.batch, s.end_reason, s.sent_back) for s in journey.steps] == [
        (batch.code, "removed", False)
    ]
    assert journey.days_since_registration == 30
