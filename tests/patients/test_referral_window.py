"""The referral validity window: an approved referral is valid from the day it was issued to the
day it expires, both included. The query (`Referral.objects.valid_on`) and the method for a
referral already read (`Referral.is_valid_on`) say the same, and every check reads one of them:
adding a patient to a batch, `prepare`, the coordinator's day, the queue and the builder.

A referral issued on 1 March cannot let a patient join a batch of 3 February."""

import datetime as dt

import pytest
from django.utils.formats import date_format

from batches.proposal import Reason, propose
from batches.selectors import referrals_lapsing
from batches.services import batch_add_patient, batch_prepare
from patients.models import Referral
from patients.selectors import QueueFilters, ReferralFilter, patient_queue, referral_state
from tests import factories
from tests.service_helpers import events_since, mark, notifications_since, refused

pytestmark = pytest.mark.django_db

FEB_3 = dt.date(2026, 2, 3)
MAR_1 = dt.date(2026, 3, 1)


def _referral(patient, *, issued_on, expires_on=None, status="approved") -> Referral:
    return factories.ReferralFactory(
        patient=patient, issued_on=issued_on, expires_on=expires_on, status=status
    )


@pytest.mark.parametrize(
    ("issued_on", "expires_on", "status", "day", "valid"),
    [
        (MAR_1, None, "approved", FEB_3, False),  # issued after the day
        (MAR_1, None, "approved", MAR_1, True),  # the day it was issued
        (MAR_1, None, "approved", dt.date(2026, 2, 28), False),  # the day before
        (FEB_3, FEB_3, "approved", FEB_3, True),  # issued and expiring that day
        (dt.date(2026, 1, 1), dt.date(2026, 2, 2), "approved", FEB_3, False),  # expired
        (dt.date(2026, 1, 1), None, "approved", FEB_3, True),  # no expiry date
        (dt.date(2026, 1, 1), None, "pending", FEB_3, False),
        (dt.date(2026, 1, 1), None, "rejected", FEB_3, False),
        (dt.date(2026, 1, 1), None, "expired", FEB_3, False),
    ],
)
def test_referral_valid_on_and_is_valid_on_agree(
    facility, issued_on, expires_on, status, day, valid
):
    patient = factories.PatientFactory(facility=facility)
    referral = _referral(patient, issued_on=issued_on, expires_on=expires_on, status=status)

    assert referral.is_valid_on(day) is valid
    assert Referral.objects.valid_on(day).filter(pk=referral.pk).exists() is valid


def test_batch_add_patient_refused_before_the_referral_is_issued(coordinator, facility):
    patient = factories.PatientFactory(facility=facility)
    _referral(patient, issued_on=MAR_1)
    batch = factories.BatchFactory(staging_facility=facility, planned_date=FEB_3)

    with refused(match=f"has no approved referral valid on {FEB_3.isoformat()}") as info:
        batch_add_patient(batch=batch, patient=patient, actor=coordinator)
    assert info.value.problems == [
        f"patient {patient.case_reference} has no approved referral valid on 2026-02-03"
    ]


def test_batch_add_patient_allowed_from_the_day_the_referral_is_issued(coordinator, facility):
    patient = factories.PatientFactory(facility=facility)
    _referral(patient, issued_on=MAR_1)
    batch = factories.BatchFactory(staging_facility=facility, planned_date=MAR_1)
    since = mark()

    (line,) = batch_add_patient(batch=batch, patient=patient, actor=coordinator)

    assert line.patient == patient
    (event,) = events_since(since)
    assert (event.action, event.details["person"]) == ("add_member", patient.case_reference)
    assert notifications_since(since) == []


def test_batch_prepare_refuses_a_patient_whose_referral_is_issued_after_the_day(
    coordinator, facility, quota, ready_patient, today
):
    patient = ready_patient()
    batch = factories.BatchFactory(staging_facility=facility, planned_date=today)
    batch_add_patient(batch=batch, patient=patient, actor=coordinator)
    # The issue date was corrected after the patient joined: it comes after the batch's day.
    later = today + dt.timedelta(days=5)
    patient.referrals.update(issued_on=later, expires_on=later + dt.timedelta(days=90))

    with refused(match="no approved referral valid on") as info:
        batch_prepare(batch=batch, actor=coordinator)
    assert any(patient.case_reference in problem for problem in info.value.problems)


def test_today_alert_lists_a_referral_issued_after_the_batch(coordinator, facility, today):
    patient = factories.PatientFactory(facility=facility)
    _referral(patient, issued_on=today, expires_on=today + dt.timedelta(days=30))
    batch = factories.BatchFactory(staging_facility=facility, planned_date=today)
    batch_add_patient(batch=batch, patient=patient, actor=coordinator)
    tomorrow = today + dt.timedelta(days=1)
    # Valid on the batch's day: no alert.
    assert referrals_lapsing(coordinator, first=today, last=tomorrow) == []

    patient.referrals.update(issued_on=tomorrow)

    (row,) = referrals_lapsing(coordinator, first=today, last=tomorrow)
    # Not expired: it starts later, so there is no expiry date to show.
    assert (row.patient, row.batch, row.expires_on) == (patient, batch, None)


def test_referral_state_reads_an_approved_referral_not_yet_issued_as_waiting(facility):
    patient = factories.PatientFactory(facility=facility)
    referral = _referral(patient, issued_on=MAR_1, expires_on=dt.date(2026, 6, 1))

    assert referral_state([referral], FEB_3).state == "pending"
    assert referral_state([referral], MAR_1) == referral_state([referral], dt.date(2026, 6, 1))
    assert referral_state([referral], MAR_1).state == "valid"
    assert referral_state([referral], dt.date(2026, 6, 2)).state == "expired"


def test_queue_filter_agrees_with_the_row_for_a_referral_not_yet_issued(coordinator, facility):
    patient = factories.PatientFactory(facility=facility)
    _referral(patient, issued_on=MAR_1)

    def chosen(referral: str, on: dt.date) -> list:
        filters = QueueFilters(referral=referral)
        return list(patient_queue(coordinator, filters=filters, on=on))

    assert chosen(ReferralFilter.PENDING, FEB_3) == [patient]
    assert chosen(ReferralFilter.VALID, FEB_3) == []
    assert chosen(ReferralFilter.VALID, MAR_1) == [patient]
    assert chosen(ReferralFilter.PENDING, MAR_1) == []


def test_builder_says_the_referral_is_issued_after_the_day(coordinator, facility, today):
    day = today + dt.timedelta(days=1)
    factories.QuotaFactory(date=day)
    patient = factories.PatientFactory(facility=facility)
    issued = day + dt.timedelta(days=26)
    _referral(patient, issued_on=issued, expires_on=issued + dt.timedelta(days=90))

    result = propose(user=coordinator, crossing="rafah", direction="exit", day=day)

    assert result.patients == []
    (skipped,) = [s for s in result.skipped if s.person.pk == patient.pk]
    short = date_format(issued, "SHORT_DATE_FORMAT")
    on = date_format(day, "SHORT_DATE_FORMAT")
    why = (Reason.NO_VALID_REFERRAL, f"The approved referral is issued on {short}, after {on}.")
    assert why in [(reason.code, reason.text) for reason in skipped.reasons]

    # From the day it is issued, the referral no longer holds the patient back.
    factories.QuotaFactory(date=issued)
    later = propose(user=coordinator, crossing="rafah", direction="exit", day=issued)
    assert patient.case_reference not in [
        s.reference
        for s in later.skipped
        if any(w.code == Reason.NO_VALID_REFERRAL for w in s.reasons)
    ]
