"""`GET /api/v1/batches/proposal/`: the batch builder's proposal over the API."""

import datetime as dt

import pytest
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

from batches.models import Batch
from casetracker.audit.models import Event
from patients.services import readiness_update
from tests import factories
from tests.service_helpers import REGISTERED, born

URL = reverse("batch-proposal")


@pytest.fixture
def day(today):
    return today + dt.timedelta(days=1)


@pytest.fixture
def people(ready_patient, nurse, day):
    """Quota 2 patients / 2 companions tomorrow. A child with a guardian and an uncle; an
    unready patient; a ready one; one more, for whom no place is left."""
    factories.QuotaFactory(date=day, agreed_patients=2, agreed_companions=2)
    child = ready_patient(registered_at=REGISTERED, date_of_birth=born(6, day), priority="critical")
    child.needs_oxygen = True
    child.save()
    uncle = factories.CompanionFactory(patient=child, relationship="uncle")
    mother = factories.CompanionFactory(patient=child, relationship="mother", is_guardian=True)
    unready = ready_patient(registered_at=REGISTERED + dt.timedelta(minutes=1))
    readiness_update(patient=unready, actor=nurse, documents_ready=False)
    ready = ready_patient(registered_at=REGISTERED + dt.timedelta(minutes=2))
    late = ready_patient(registered_at=REGISTERED + dt.timedelta(minutes=3))
    return child, uncle, mother, unready, ready, late


def get(client, **params):
    return client.get(URL, params)


def test_proposal_api_answers_the_proposal(api, coordinator, facility, day, people):
    child, uncle, mother, unready, ready, late = people

    response = get(
        api(coordinator), direction="exit", date=day.isoformat(), staging_facility=facility.code
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["crossing"] == "rafah" and body["direction"] == "exit"
    assert body["date"] == day.isoformat() and body["staging_facility"] == facility.code
    assert body["places_left"] == {"patients": 2, "companions": 2}
    assert body["places_after"] == {"patients": 0, "companions": 0}
    assert body["patients"] == [
        {
            "case_reference": child.case_reference,
            "priority": "critical",
            "clinical_category": "oncology",
            "age": 6,
            "is_child": True,
            "mobility_needs": ["needs_oxygen"],
            "companions": [
                {
                    "id": mother.pk,
                    "relationship": "mother",
                    "is_guardian": True,
                    "age": mother.age_on(day),
                    "proposed": True,
                },
                {
                    "id": uncle.pk,
                    "relationship": "uncle",
                    "is_guardian": False,
                    "age": uncle.age_on(day),
                    "proposed": True,
                },
            ],
        },
        {
            "case_reference": ready.case_reference,
            "priority": "urgent",
            "clinical_category": "oncology",
            "age": ready.age_on(day),
            "is_child": False,
            "mobility_needs": [],
            "companions": [],
        },
    ]
    assert body["returnees"] == []
    assert body["skipped"] == [
        {
            "kind": "patient",
            "reference": unready.case_reference,
            "reasons": [{"code": "not_ready", "reason": "Not ready yet: documents ready."}],
        },
        {
            "kind": "patient",
            "reference": late.case_reference,
            "reasons": [
                {"code": "quota_full", "reason": "Quota full: no patient places left that day."}
            ],
        },
    ]
    assert body["notes"] == [] and body["truncated"] is False and body["looked_at"] == 4


def test_proposal_api_names_nobody(api, coordinator, day, people):
    content = get(api(coordinator), direction="exit", date=day.isoformat()).content.decode()
    for person in people:
        assert person.name_latin not in content
        assert person.name_arabic not in content
        assert person.national_id not in content


def test_proposal_api_writes_the_access_log_and_saves_nothing(api, coordinator, day, people):
    before = Event.objects.exclude(action="view").count()

    get(api(coordinator), direction="exit", date=day.isoformat())

    event = Event.objects.get(action="view")
    child, _uncle, _mother, unready, ready, late = people
    assert event.details["results"] == [
        child.case_reference,
        ready.case_reference,
        unready.case_reference,
        late.case_reference,
    ]
    assert event.actor_id == coordinator.pk
    assert Event.objects.exclude(action="view").count() == before
    assert not Batch.objects.exists()


def test_proposal_api_without_quota(api, coordinator, day, people):
    body = get(api(coordinator), direction="exit", date=(day + dt.timedelta(days=5))).json()
    assert body["places_left"] is None and body["places_after"] is None
    assert body["patients"] == [] and body["skipped"] == []
    assert [note["code"] for note in body["notes"]] == ["no_quota"]


def test_proposal_api_return_day(api, coordinator, day, facility):
    factories.QuotaFactory(date=day, direction="return", agreed_patients=1)
    first = factories.ReturneeFactory(registered_at=REGISTERED)
    second = factories.ReturneeFactory(registered_at=REGISTERED + dt.timedelta(hours=1))

    body = get(api(coordinator), direction="return", date=day.isoformat()).json()

    assert body["returnees"] == [{"reference": first.reference, "age": first.age_on(day)}]
    assert body["skipped"][0]["reference"] == second.reference
    assert body["skipped"][0]["kind"] == "returnee"
    assert body["skipped"][0]["reasons"][0]["code"] == "quota_full"
    assert body["places_after"] == {"patients": 0, "companions": 0}


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({}, {"direction", "date"}),
        ({"direction": "sideways", "date": "2026-02-04"}, {"direction"}),
        ({"direction": "exit", "date": "04/02/2026"}, {"date"}),
        ({"direction": "exit", "date": "2026-02-04", "crossing": "erez"}, {"crossing"}),
        (
            {"direction": "exit", "date": "2026-02-04", "staging_facility": "nowhere"},
            {"staging_facility"},
        ),
    ],
)
def test_proposal_api_refuses_bad_parameters_naming_them(api, coordinator, params, fields):
    response = api(coordinator).get(URL, params)
    assert response.status_code == 400
    assert set(response.json()) == fields


def test_proposal_api_reads_empty_optional_parameters_as_not_given(api, coordinator, day):
    factories.QuotaFactory(date=day)
    params = {"direction": "exit", "date": day.isoformat(), "crossing": "", "staging_facility": ""}
    body = api(coordinator).get(URL, params).json()
    assert body["crossing"] == "rafah" and body["staging_facility"] is None


@pytest.mark.parametrize(("who", "status"), [("nurse", 403), ("auditor", 403), (None, 401)])
def test_proposal_api_refuses_other_roles(api, request, db, day, who, status):
    user = request.getfixturevalue(who) if who else None
    response = api(user).get(URL, {"direction": "exit", "date": day.isoformat()})
    assert response.status_code == status
    assert not Event.objects.filter(action="view").exists()


def test_proposal_api_serves_admins(api, admin_user, day, people):
    body = get(api(admin_user), direction="exit", date=day.isoformat()).json()
    assert len(body["patients"]) == 2


def test_proposal_api_is_in_the_schema(db):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/batches/proposal/"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {
        "crossing",
        "direction",
        "date",
        "staging_facility",
    }
    assert set(operation["responses"]) >= {"200", "400", "401", "403"}
