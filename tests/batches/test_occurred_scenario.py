"""The four known days (tests/batches/scenario.py) replayed as a coordinator types them in after
the connection came back: every fact recorded now, each stating when it happened on its day.
Every report gives the figures the days really had: the same crossings, rates, waits and
bumps as when they are recorded live, and the cancellation and the death on their own days.

Built once for the module inside a transaction rolled back at its end, as
test_reports_scenario.py does."""

import datetime as dt

import pytest
from django.db import transaction
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from batches.reports.selectors import (
    Period,
    bumped_patients,
    cancellation_rate,
    cancellations,
    deaths_while_waiting,
    patient_journey,
    quota_vs_crossed,
    referral_to_crossing,
)
from casetracker.audit.models import Event
from casetracker.audit.verify import verify_chain
from tests import factories
from tests.batches.scenario import Scenario, build_scenario

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def late(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
            facility = factories.FacilityFactory(code="al-amal", kind="staging")
            coordinator = factories.UserFactory(username="coordinator", role="coordinator")
            built = build_scenario(coordinator=coordinator, facility=facility, recorded_late=True)
        yield built
        transaction.set_rollback(True)


@pytest.fixture
def s(late, db) -> Scenario:
    return late


def test_every_fact_was_recorded_after_it_occurred(s):
    events = Event.objects.filter(batch_ref__startswith="RAF-").exclude(action="add_member")
    assert events.exists()
    assert all(e.recorded_late and e.occurred.date() <= s.d4 for e in events)
    assert verify_chain().ok


def test_quota_vs_crossed_gives_the_live_figures(s, auditor):
    rows = quota_vs_crossed(auditor, period=Period(s.d1, s.d4), crossing="rafah")
    numbers = {
        (r.date, r.direction): (
            r.patients_crossed,
            r.companions_crossed,
            r.returnees_crossed,
            r.held,
        )
        for r in rows
    }
    assert numbers == s.expected["crossed"]


def test_cancellation_rate_and_reasons_give_the_live_figures(s, auditor):
    weeks, reasons = cancellation_rate(auditor, period=Period(s.d1, s.d4))
    assert sum(w.decided for w in weeks) == s.expected["decided_batches"]
    assert sum(w.cancelled for w in weeks) == s.expected["cancelled_batches"]
    assert reasons == s.expected["reasons"]


def test_referral_to_crossing_gives_the_live_figures(s, auditor):
    wait = referral_to_crossing(auditor, period=Period(s.d1, s.d4))
    expected = s.expected["referral_to_crossing"]
    assert (wait.patients, wait.median_days, wait.shortest, wait.longest) == (
        expected["patients"],
        expected["median"],
        expected["shortest"],
        expected["longest"],
    )


def test_bumped_patients_give_the_live_figures(s, auditor):
    rows = bumped_patients(auditor)
    assert {r.case_reference: r.bumps for r in rows} == {
        s.patient(name).case_reference: bumps for name, bumps in s.expected["bumped"].items()
    }


def test_the_d3_cancellation_is_on_its_own_day_with_its_notice(s, auditor):
    d3 = s.batch("d3_exit")
    [row] = cancellations(auditor, period=Period(s.d3, s.d3))
    expected = s.expected["d3_cancellation"]
    assert (row.code, row.cancelled_at) == (d3.code, s.at(s.d3, 11, 40))
    assert (row.patients, row.companions, row.crossed_later, row.still_waiting) == (
        expected["patients"],
        expected["companions"],
        expected["crossed_later"],
        expected["still_waiting"],
    )
    assert row.last_crossed_on == expected["last_crossed_on"]
    # 11:40 on the day itself, not days after it as the recorded time would say.
    assert row.lead_hours == pytest.approx(-11.7, abs=0.05)
    assert row.recorded_at.date() >= s.today - dt.timedelta(days=1)
    # Recorded today, yet not a cancellation of today.
    assert cancellations(auditor, period=Period(s.today, s.today)) == []


def test_the_death_counts_on_its_day(s, auditor):
    x = s.patient("X")
    [row] = deaths_while_waiting(auditor, period=Period(s.d1, s.d4))
    waited = (s.d4 - timezone.localdate(x.registered_at)).days
    assert (row.case_reference, row.died_at, row.days_waited) == (
        x.case_reference,
        s.at(s.d4, 22),
        waited,
    )
    assert deaths_while_waiting(auditor, period=Period(s.d4 + dt.timedelta(days=1), s.today)) == []
    assert patient_journey(auditor, x).days_since_registration == waited


def test_journeys_wait_to_the_crossing(s, auditor):
    b = patient_journey(auditor, s.patient("B"))
    assert (b.crossed_on, b.days_since_registration, b.bumps) == (s.d4, 23, 2)


def test_the_timeline_gives_both_times(s, auditor, client):
    client.force_login(auditor)
    html = client.get(reverse("reports:batch", args=[s.batch("d3_exit").code])).content.decode()
    assert "occurred" in html and "recorded" in html
