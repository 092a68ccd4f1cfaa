"""The access log: every read of a person's record, every list page and every search leaves one
audit event, with references and counts but never the data or the searched value."""

import json

import pytest
from django.test import Client
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

from casetracker.audit.models import Event
from patients.admin import CompanionAdmin, PatientAdmin, ReadinessAdmin, ReturneeAdmin
from patients.api.views import CompanionFilter, PatientFilter, ReferralFilter
from tests import factories

pytestmark = pytest.mark.django_db

SENTINEL = "400123456"
NAME = "Huda Barhoum"
SEARCH = "/api/v1/patients/search/"


@pytest.fixture
def patient(facility):
    return factories.PatientFactory(
        facility=facility, national_id=SENTINEL, name_latin=NAME, name_arabic="هدى برهوم"
    )


@pytest.fixture
def login():
    def make(user):
        client = Client()
        client.force_login(user)
        return client

    return make


def one_new_event(before: int) -> Event:
    events = list(Event.objects.filter(pk__gt=before))
    assert len(events) == 1, [str(e) for e in events]
    event = events[0]
    # Whatever the read, the event holds no name, no number, no diagnosis.
    blob = json.dumps(event.details, ensure_ascii=False) + event.subject_ref + event.reason_text
    for private in (SENTINEL, NAME, "هدى", "clinical detail"):
        assert private not in blob
    return event


def last_id() -> int:
    return Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def assert_view(event, *, actor, role, subject_ref, facility, category, **details):
    assert event.action == "view"
    assert (event.actor, event.actor_role, event.subject_ref) == (actor, role, subject_ref)
    assert event.subject_facility_id == (facility.pk if facility else None)
    assert event.details == {"category": category, **details}


# --- API ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "category"),
    [("coordinator", "clinical"), ("nurse", "clinical"), ("auditor", "identity")],
)
def test_api_patient_retrieve_logs_one_view(request, api, patient, who, category):
    user = request.getfixturevalue(who)
    before = last_id()
    response = api(user).get(f"/api/v1/patients/{patient.case_reference}/")
    assert response.status_code == 200
    event = one_new_event(before)
    assert_view(
        event,
        actor=user,
        role=user.groups.get().name,
        subject_ref=patient.case_reference,
        facility=patient.facility,
        category=category,
    )
    assert event.subject_type == "patient"
    assert event.actor_facility_id == user.facility_id


def test_api_patient_retrieve_of_another_facility_logs_nothing(api, other_nurse, patient):
    before = last_id()
    assert api(other_nurse).get(f"/api/v1/patients/{patient.case_reference}/").status_code == 404
    assert last_id() == before


def test_api_patient_readiness_get_logs_one_view(api, nurse, patient):
    before = last_id()
    assert (
        api(nurse).get(f"/api/v1/patients/{patient.case_reference}/readiness/").status_code == 200
    )
    assert_view(
        one_new_event(before),
        actor=nurse,
        role="hospital_staff",
        subject_ref=patient.case_reference,
        facility=patient.facility,
        category="readiness",
    )


def test_api_patient_readiness_post_logs_only_the_change(api, nurse, patient):
    before = last_id()
    url = f"/api/v1/patients/{patient.case_reference}/readiness/"
    assert api(nurse).post(url, {"fit_to_travel": False}, format="json").status_code == 201
    assert one_new_event(before).action == "readiness_update"


def test_api_patient_list_logs_one_event_with_the_rows(api, coordinator, patient, facility):
    other = factories.PatientFactory(facility=facility)
    before = last_id()
    response = api(coordinator).get("/api/v1/patients/")
    assert response.status_code == 200
    event = one_new_event(before)
    assert (event.action, event.subject_type, event.subject_ref) == ("view", "patient", "list")
    assert event.details == {
        "category": "clinical",
        "rows": 2,
        "results": [r["case_reference"] for r in response.json()["results"]],
    }
    assert set(event.details["results"]) == {patient.case_reference, other.case_reference}


def test_api_companion_retrieve_logs_one_view_under_the_patient(api, coordinator, patient):
    companion = factories.CompanionFactory(patient=patient)
    before = last_id()
    assert api(coordinator).get(f"/api/v1/companions/{companion.pk}/").status_code == 200
    assert_view(
        one_new_event(before),
        actor=coordinator,
        role="coordinator",
        subject_ref=patient.case_reference,
        facility=patient.facility,
        category="identity",
        companion=companion.pk,
    )


def test_api_companion_list_logs_the_companions(api, coordinator, patient):
    companion = factories.CompanionFactory(patient=patient)
    before = last_id()
    assert api(coordinator).get("/api/v1/companions/").status_code == 200
    event = one_new_event(before)
    assert event.details == {
        "category": "identity",
        "rows": 1,
        "results": [patient.case_reference],
        "companions": [companion.pk],
    }


def test_api_referral_retrieve_and_list_log_clinical_views(api, coordinator, patient):
    referral = factories.ReferralFactory(patient=patient)
    before = last_id()
    assert api(coordinator).get(f"/api/v1/referrals/{referral.pk}/").status_code == 200
    assert_view(
        one_new_event(before),
        actor=coordinator,
        role="coordinator",
        subject_ref=patient.case_reference,
        facility=patient.facility,
        category="clinical",
        referral=referral.pk,
    )
    before = last_id()
    assert api(coordinator).get("/api/v1/referrals/").status_code == 200
    assert one_new_event(before).details == {
        "category": "clinical",
        "rows": 1,
        "results": [patient.case_reference],
        "referrals": [referral.pk],
    }


def test_admin_referral_change_view_logs_one_clinical_view(login, coordinator, patient):
    referral = factories.ReferralFactory(patient=patient)
    before = last_id()
    url = reverse("admin:patients_referral_change", args=[referral.pk])
    assert login(coordinator).get(url).status_code == 200
    event = one_new_event(before)
    assert event.details == {"category": "clinical", "referral": referral.pk}


def test_api_returnee_retrieve_and_list_log_one_view_each(api, auditor):
    returnee = factories.ReturneeFactory(national_id=SENTINEL, name_latin=NAME)
    before = last_id()
    assert api(auditor).get(f"/api/v1/returnees/{returnee.reference}/").status_code == 200
    event = one_new_event(before)
    assert (event.subject_type, event.subject_ref) == ("returnee", returnee.reference)
    assert_view(
        event,
        actor=auditor,
        role="auditor",
        subject_ref=returnee.reference,
        facility=None,
        category="identity",
    )
    before = last_id()
    assert api(auditor).get("/api/v1/returnees/").status_code == 200
    event = one_new_event(before)
    assert (event.subject_type, event.subject_ref) == ("returnee", "list")
    assert event.details["results"] == [returnee.reference]


# --- Search ---------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["coordinator", "nurse", "auditor", "admin_user"])
def test_api_patient_search_by_national_id_is_logged_without_the_number(request, api, patient, who):
    user = request.getfixturevalue(who)
    factories.PatientFactory(facility=patient.facility)
    before = last_id()
    response = api(user).post(SEARCH, {"national_id": "٤٠٠-١٢٣-٤٥٦"}, format="json")
    assert response.status_code == 200
    assert [r["case_reference"] for r in response.json()["results"]] == [patient.case_reference]
    assert response.json()["count"] == 1
    event = one_new_event(before)
    assert (event.action, event.subject_type, event.subject_ref) == ("search", "patient", "search")
    assert event.actor == user
    assert event.details["rows"] == 1
    assert event.details["by"] == "national_id"
    assert event.details["results"] == [patient.case_reference]
    assert event.details["category"] in ("identity", "clinical")
    assert "٤٠٠" not in json.dumps(event.details, ensure_ascii=False)


def test_api_patient_search_is_scoped_to_the_facility(api, other_nurse, patient):
    before = last_id()
    response = api(other_nurse).post(SEARCH, {"national_id": SENTINEL}, format="json")
    assert response.status_code == 200
    assert response.json()["results"] == []
    event = one_new_event(before)
    assert (event.details["rows"], event.details["results"]) == (0, [])


def test_api_patient_search_by_name(api, coordinator, patient, facility):
    factories.PatientFactory(facility=facility, name_latin="Someone Else", name_arabic="آخر")
    before = last_id()
    response = api(coordinator).post(SEARCH, {"name": "هدى"}, format="json")
    assert [r["case_reference"] for r in response.json()["results"]] == [patient.case_reference]
    assert one_new_event(before).details["by"] == "name"


def test_api_patient_search_hides_the_diagnosis_from_auditors(api, auditor, patient):
    response = api(auditor).post(SEARCH, {"national_id": SENTINEL}, format="json")
    assert "diagnosis" not in response.json()["results"][0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "national_id"),
        ({"national_id": ""}, "national_id"),
        ({"national_id": "40012345A"}, "national_id"),
        ({"national_id": "1" * 21}, "national_id"),
        ({"national_id": 400123456}, "national_id"),
        ({"national_id": [SENTINEL]}, "national_id"),
        ({"name": "x"}, "name"),
        ({"name": "Huda\u202e"}, "name"),
    ],
)
def test_api_patient_search_invalid_input_names_the_field(api, coordinator, body, field):
    before = last_id()
    response = api(coordinator).post(SEARCH, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert last_id() == before


def test_api_patient_search_takes_json_only(api, coordinator, patient):
    # In a form body an empty field reads as "not given"; the search refuses forms instead.
    response = api(coordinator).post(SEARCH, {"national_id": SENTINEL}, format="multipart")
    assert response.status_code == 415


def test_api_patient_search_refuses_get_and_anonymous(api, patient):
    # No GET: a national ID or a name must never be in a URL.
    assert api(factories.UserFactory(role="coordinator")).get(SEARCH).status_code in (403, 405)
    assert api().post(SEARCH, {"national_id": SENTINEL}, format="json").status_code in (401, 403)


def test_no_get_parameter_or_admin_search_takes_a_national_id_or_a_name():
    private = ("national_id", "name_latin", "name_arabic", "name", "phone")
    for filterset in (PatientFilter, CompanionFilter, ReferralFilter):
        assert not set(filterset.base_filters) & set(private), filterset
    for admin_class in (PatientAdmin, CompanionAdmin, ReadinessAdmin, ReturneeAdmin):
        for field in admin_class.search_fields:
            assert field.rsplit("__", 1)[-1] in ("case_reference", "reference"), field
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            assert not names & set(private), (method, path)


# --- Admin ----------------------------------------------------------------------------------


def test_admin_patient_change_view_logs_one_view(login, coordinator, patient):
    client = login(coordinator)
    before = last_id()
    url = reverse("admin:patients_patient_change", args=[patient.pk])
    assert client.get(url).status_code == 200
    assert_view(
        one_new_event(before),
        actor=coordinator,
        role="coordinator",
        subject_ref=patient.case_reference,
        facility=patient.facility,
        category="clinical",
    )


def test_admin_patient_change_view_by_an_auditor_is_identity(login, auditor, patient):
    before = last_id()
    url = reverse("admin:patients_patient_change", args=[patient.pk])
    assert login(auditor).get(url).status_code == 200
    assert one_new_event(before).details == {"category": "identity"}


def test_admin_companion_returnee_and_readiness_change_views_log_one_view_each(
    login, coordinator, patient
):
    companion = factories.CompanionFactory(patient=patient)
    returnee = factories.ReturneeFactory()
    client = login(coordinator)
    pages = [
        ("patients_companion_change", companion.pk, patient.case_reference, "identity"),
        ("patients_returnee_change", returnee.pk, returnee.reference, "identity"),
        ("patients_readiness_change", patient.readiness.pk, patient.case_reference, "readiness"),
    ]
    for name, pk, ref, category in pages:
        before = last_id()
        assert client.get(reverse(f"admin:{name}", args=[pk])).status_code == 200, name
        event = one_new_event(before)
        assert (event.action, event.subject_ref, event.details["category"]) == (
            "view",
            ref,
            category,
        )


def test_admin_patient_changelist_links_to_the_find_page(login, auditor, patient):
    response = login(auditor).get(reverse("admin:patients_patient_changelist"))
    assert reverse("admin:patients_patient_find") in response.content.decode()


def test_admin_find_page_searches_in_a_post_and_logs_it(login, nurse, patient):
    client = login(nurse)
    url = reverse("admin:patients_patient_find")
    before = last_id()
    page = client.get(url)
    assert page.status_code == 200
    assert 'method="post"' in page.content.decode()
    assert last_id() == before  # an empty form is no search
    response = client.post(url, {"national_id": "٤٠٠١٢٣٤٥٦", "name": ""})
    assert response.status_code == 200
    assert patient.case_reference in response.content.decode()
    event = one_new_event(before)
    assert event.action == "search"
    assert event.details == {
        "category": "identity",
        "rows": 1,
        "results": [patient.case_reference],
        "by": "national_id",
    }


def test_admin_find_page_is_scoped_and_names_bad_fields(login, other_nurse, patient):
    client = login(other_nurse)
    url = reverse("admin:patients_patient_find")
    response = client.post(url, {"national_id": SENTINEL})
    assert patient.case_reference not in response.content.decode()
    assert response.context["results"] == []
    response = client.post(url, {"national_id": "abc", "name": ""})
    assert response.context["form"].errors.keys() == {"national_id"}
    response = client.post(url, {"national_id": "", "name": ""})
    assert response.context["form"].errors.keys() == {"national_id"}


def test_admin_find_page_works_in_arabic(login, coordinator, patient):
    client = login(coordinator)
    client.cookies["django_language"] = "ar"
    response = client.post(
        reverse("admin:patients_patient_find"), {"name": "برهوم"}, HTTP_ACCEPT_LANGUAGE="ar"
    )
    assert response.status_code == 200
    assert 'dir="rtl"' in response.content.decode()
    assert patient.case_reference in response.content.decode()


# --- The auditors' journey ------------------------------------------------------------------


def test_patient_journey_page_and_api_log_one_view_each(api, login, auditor, patient):
    before = last_id()
    page = reverse("reports:patient", args=[patient.case_reference])
    assert login(auditor).get(page).status_code == 200
    assert_view(
        one_new_event(before),
        actor=auditor,
        role="auditor",
        subject_ref=patient.case_reference,
        facility=patient.facility,
        category="journey",
    )
    before = last_id()
    url = f"/api/v1/reports/patients/{patient.case_reference}/journey/"
    assert api(auditor).get(url).status_code == 200
    assert one_new_event(before).details == {"category": "journey"}


# --- Who sees the access log ----------------------------------------------------------------


def test_access_events_are_hidden_from_staff_and_coordinators(
    api, coordinator, nurse, auditor, admin_user, patient
):
    api(nurse).get(f"/api/v1/patients/{patient.case_reference}/")
    api(coordinator).post(SEARCH, {"national_id": SENTINEL}, format="json")
    api(nurse).post(f"/api/v1/patients/{patient.case_reference}/readiness/", {"note": "ok"})
    for user in (nurse, coordinator):
        actions = {e["action"] for e in api(user).get("/api/v1/events/").json()["results"]}
        assert "readiness_update" in actions
        assert not actions & {"view", "search"}, user
    for user in (auditor, admin_user):
        actions = {e["action"] for e in api(user).get("/api/v1/events/").json()["results"]}
        assert {"view", "search", "readiness_update"} <= actions, user
