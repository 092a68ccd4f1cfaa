"""Every list of the API costs the same queries for a page of 10 rows as for a page of 100:
nothing is read per row (an N+1 multiplies a page's cost by its size). The reports, which are
not paginated, cost the same for a few rows as for many.

One world of more than a hundred rows of each kind, built once for the module in a transaction
rolled back at its end (as in `conftest.py`); each list is read as the roles that see it."""

import datetime as dt
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from batches import services as batch_services
from batches.services.statements import statement_add
from casetracker.audit.models import Event
from casetracker.audit.redaction import text_redact
from patients.services import patient_set_status
from tests import factories
from tests.api_helpers import assert_page_size_constant, count_queries, world_rolled_back

ROWS = 110
REASONS = ["security", "weather", "logistics", "medical", "other", "no_reason_given"]


@dataclass
class World:
    users: dict
    manifest: str  # an exit batch of 55 patients, each with a companion: 110 lines
    homecoming: str  # a return batch of 110 returnees
    talked_about: str  # a cancelled batch with 12 statements


def build_world() -> World:
    now, today = timezone.now(), timezone.localdate()
    home = factories.FacilityFactory(code="al-amal", kind="staging")
    away = factories.FacilityFactory(code="nasser", kind="staging")
    users = {
        "coordinator": factories.UserFactory(username="coordinator", role="coordinator"),
        "nurse": factories.UserFactory(
            username="nurse", role="hospital_staff", facility=home, preferred_language="ar"
        ),
        "auditor": factories.UserFactory(username="auditor", role="auditor"),
        "admin": factories.UserFactory(username="admin", is_superuser=True),
    }
    coordinator = users["coordinator"]
    # People at both facilities, of every priority and some not waiting any more, registered
    # 40 days ago: each with an approved referral and a companion.
    patients = []
    for n in range(ROWS):
        patient = factories.PatientFactory(
            facility=(home, away)[n % 2],
            priority=("critical", "urgent", "routine")[n % 3],
            registered_at=now - dt.timedelta(days=40),
        )
        factories.ReferralFactory(patient=patient)
        factories.CompanionFactory(patient=patient)
        patients.append(patient)
    returnees = factories.ReturneeFactory.create_batch(ROWS)
    for day in range(ROWS):
        factories.QuotaFactory(date=today + dt.timedelta(days=day))

    manifest = factories.BatchFactory(staging_facility=home)
    for patient in patients[:55]:
        batch_services.batch_add_patient(
            batch=manifest,
            patient=patient,
            companions=list(patient.companions.all()),
            actor=coordinator,
        )
    homecoming = factories.BatchFactory(staging_facility=home, direction="return")
    for returnee in returnees:
        batch_services.batch_add_returnee(batch=homecoming, returnee=returnee, actor=coordinator)

    # A batch a day at either facility, half of them cancelled (each reason, relayed or not,
    # with people on board for some), a quarter of those rescheduled.
    cancelled = []
    for day in range(ROWS):
        batch = factories.BatchFactory(
            staging_facility=(home, away)[day % 2],
            planned_date=today + dt.timedelta(days=day),
        )
        if day % 4 > 1:
            continue
        if day < 40:
            batch_services.batch_add_patient(
                batch=batch, patient=patients[55 + len(cancelled)], actor=coordinator
            )
        batch_services.batch_cancel(
            batch=batch,
            actor=coordinator,
            reason_code=REASONS[day // 4 % len(REASONS)],
            reason_text=f"cancelled at the gate, day {day}",
            source="border_authority",
            relayed_by="who" if day % 8 < 4 else "",
        )
        cancelled.append(batch)
        if day % 16 < 2:
            batch_services.batch_reschedule(
                batch=batch, actor=coordinator, planned_date=today + dt.timedelta(days=day + 1)
            )
    # The texts of the latest cancellations redacted (the first rows of the batch list, at
    # both facilities): the batches, the events and the history say who redacted them.
    for batch in cancelled[-4:]:
        event = Event.objects.get(action="cancel", subject_ref=batch.code)
        text_redact(text_id=event.pk, actor=users["admin"], reason="names a patient")
    talked_about = cancelled[0]
    for n in range(12):
        statement_add(
            batch=talked_about,
            actor=coordinator,
            source="border_authority",
            text=f"statement {n}",
            relayed_by="who" if n % 2 else "",
            about_cancellation=bool(n % 3),
        )
    # Deaths over the last weeks (when they occurred), for the deaths report.
    for n, patient in enumerate(patients[75:]):
        patient_set_status(
            patient=patient,
            status="deceased",
            actor=coordinator,
            occurred_at=now - dt.timedelta(days=n),
        )
    return World(users, manifest.code, homecoming.code, talked_about.code)


@pytest.fixture(scope="module")
def crowd(django_db_setup, django_db_blocker):
    with world_rolled_back(django_db_blocker, build_world) as built:
        yield built


LISTS = [
    ("coordinator", "/api/v1/patients/", {}),
    ("nurse", "/api/v1/patients/", {}),
    ("auditor", "/api/v1/patients/", {}),
    ("coordinator", "/api/v1/patients/", {"status": "waiting"}),
    ("coordinator", "/api/v1/companions/", {}),
    ("nurse", "/api/v1/companions/", {}),
    ("coordinator", "/api/v1/referrals/", {}),
    ("nurse", "/api/v1/referrals/", {}),
    ("coordinator", "/api/v1/returnees/", {}),
    ("coordinator", "/api/v1/batches/", {}),
    ("nurse", "/api/v1/batches/", {}),
    ("coordinator", "/api/v1/batches/{manifest}/members/", {}),
    ("nurse", "/api/v1/batches/{manifest}/members/", {}),
    ("auditor", "/api/v1/batches/{homecoming}/members/", {}),
    ("coordinator", "/api/v1/batches/{talked_about}/statements/", {}),
    ("coordinator", "/api/v1/events/", {}),
    ("nurse", "/api/v1/events/", {}),
    ("auditor", "/api/v1/events/", {}),
    ("auditor", "/api/v1/events/", {"action": "cancel"}),
    ("coordinator", "/api/v1/notifications/", {}),
    ("nurse", "/api/v1/notifications/", {}),
    ("auditor", "/api/v1/notifications/", {"channel": "inbox"}),
    ("coordinator", "/api/v1/quotas/", {}),
]


def _url(world: World, url: str) -> str:
    return url.format(
        manifest=world.manifest, homecoming=world.homecoming, talked_about=world.talked_about
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("who", "url", "params"), LISTS)
def test_list_costs_the_same_queries_for_10_rows_and_100(crowd, api, who, url, params):
    assert_page_size_constant(api, crowd.users[who], _url(crowd, url), params)


def _days(first: int, last: int) -> dict:
    today = timezone.localdate()
    return {
        "date_from": (today + dt.timedelta(days=first)).isoformat(),
        "date_to": (today + dt.timedelta(days=last)).isoformat(),
    }


# A query that gives a few rows, and one that gives many.
REPORTS = [
    ("cancellations", {"reason": "medical"}, {}),
    ("cancellations", {"reason": "medical", "download": "csv"}, {"download": "csv"}),
    ("daily", _days(0, 9), _days(0, 99)),
    ("cancellation-rate", _days(0, 13), _days(0, 104)),
    ("cancellation-reasons", _days(0, 6), _days(0, 104)),
    ("deaths", _days(-1, 0), _days(-29, 0)),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "few", "many"), REPORTS)
def test_report_costs_the_same_queries_for_few_rows_and_many(crowd, api, name, few, many):
    url = f"/api/v1/reports/{name}/"
    auditor = crowd.users["auditor"]
    if "download" in few:
        # A file has no count to compare: the JSON of the same query tells the rows.
        rows = [
            count_queries(api, auditor, url, {k: v for k, v in q.items() if k != "download"})[1]
            for q in (few, many)
        ]
        small, large = (_queries(api, auditor, url, q) for q in (few, many))
    else:
        (small, body_few), (large, body_many) = (
            count_queries(api, auditor, url, q) for q in (few, many)
        )
        rows = [body_few, body_many]
    assert 0 < rows[0]["count"] < rows[1]["count"], (name, rows[0]["count"], rows[1]["count"])
    assert small == large, (
        f"{name}: {small} queries for {rows[0]['count']} rows, {large} for {rows[1]['count']}"
    )


def _queries(api, user, url, params) -> int:
    fresh = type(user).objects.get(pk=user.pk)
    with CaptureQueriesContext(connection) as ctx:
        response = api(fresh).get(url, params)
    assert response.status_code == 200
    return len(ctx)
