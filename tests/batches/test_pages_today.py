"""The coordinator's day: batches and places per day, crossing and direction; alerts."""

import datetime as dt

import pytest
from django.urls import reverse

from batches.services import batch_add_patient, batch_create
from patients.models import Readiness
from tests import factories
from tests.service_helpers import advance


@pytest.fixture
def tomorrow(today):
    return today + dt.timedelta(days=1)


@pytest.fixture
def day_batch(coordinator, facility, ready_patient, tomorrow):
    factories.QuotaFactory(date=tomorrow, agreed_patients=5, agreed_companions=10)
    batch = batch_create(
        actor=coordinator, direction="exit", planned_date=tomorrow, staging_facility=facility
    )
    patient = ready_patient(name_latin="Huda Shaath")
    batch_add_patient(batch=batch, patient=patient, actor=coordinator)
    return batch


def _today(client, user):
    client.force_login(user)
    return client.get(reverse("batches:today"))


def test_today_lists_batches_and_places_left(client, coordinator, day_batch):
    advance(day_batch, "prepared", coordinator)
    html = _today(client, coordinator).content.decode()
    assert day_batch.code in html
    assert "4 of 5 patients" in html
    assert "10 of 10 companions" in html


def test_today_draft_holds_no_place(client, coordinator, day_batch):
    html = _today(client, coordinator).content.decode()
    assert "5 of 5 patients" in html


def test_today_names_the_missing_readiness_of_tomorrow(client, coordinator, day_batch):
    Readiness.objects.filter(patient__name_latin="Huda Shaath").update(documents_ready=False)
    html = _today(client, coordinator).content.decode()
    assert "Not ready for tomorrow" in html
    assert "documents ready" in html


def test_today_names_a_referral_lapsing_before_the_batch(client, coordinator, day_batch, today):
    patient = day_batch.members.get().patient
    patient.referrals.update(expires_on=today)
    html = _today(client, coordinator).content.decode()
    assert "No referral valid on the batch" in html
    assert patient.case_reference in html


def test_today_counts_undelivered_notifications(client, coordinator, day_batch):
    from casetracker.notifications.models import Notification

    advance(day_batch, "prepared", coordinator)
    Notification.objects.filter(pk=Notification.objects.first().pk).update(status="failed")
    html = _today(client, coordinator).content.decode()
    assert "could not be delivered" in html


def test_today_queries_do_not_grow_with_days(client, coordinator, facility, today):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(coordinator)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("batches:today")).status_code == 200
        return len(ctx)

    factories.QuotaFactory(date=today)
    count()  # the first request after signing in saves the session (once a minute)
    few = count()
    for days in range(1, 7):
        day = today + dt.timedelta(days=days)
        factories.QuotaFactory(date=day)
        factories.QuotaFactory(date=day, direction="return")
        factories.BatchFactory(planned_date=day, staging_facility=facility)
    assert count() == few


@pytest.mark.parametrize("who", ["nurse", "auditor"])
def test_today_refused_to_other_roles(client, request, who):
    assert _today(client, request.getfixturevalue(who)).status_code == 403


def test_today_in_arabic(client, coordinator, day_batch):
    coordinator.preferred_language = "ar"
    coordinator.save()
    html = _today(client, coordinator).content.decode()
    assert 'dir="rtl"' in html


def test_today_logs_the_patients_its_alerts_name(client, coordinator, day_batch):
    from tests.service_helpers import events_since, mark

    patient = day_batch.members.get().patient
    Readiness.objects.filter(patient=patient).update(documents_ready=False)
    since = mark()
    _today(client, coordinator)
    [event] = [e for e in events_since(since) if e.action == "view"]
    assert event.details["results"] == [patient.case_reference]
