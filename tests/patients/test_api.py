"""API: patients (with status and readiness), companions, referrals and returnees."""

import datetime as dt
import re

import pytest
from django.utils import timezone

from batches import services as batch_services
from casetracker.audit.models import Event
from patients.models import Companion, Patient, Readiness, ReadinessChange, Referral, Returnee
from tests import factories
from tests.api_helpers import assert_constant_queries, patient_body

PATIENTS = "/api/v1/patients/"
COMPANIONS = "/api/v1/companions/"
REFERRALS = "/api/v1/referrals/"
RETURNEES = "/api/v1/returnees/"


# --- patients/ ------------------------------------------------------------------------------


def test_patients_create_registers_a_waiting_case(api, coordinator, facility):
    response = api(coordinator).post(PATIENTS, patient_body(), format="json")
    assert response.status_code == 201
    body = response.json()
    assert re.fullmatch(r"EV-[2-9A-HJKMNP-Z]{6}", body["case_reference"])
    assert body["status"] == "waiting"
    assert body["facility"] == "al-amal"
    assert body["diagnosis"] == "stage III carcinoma"
    assert body["needs_oxygen"] is True
    patient = Patient.objects.get(case_reference=body["case_reference"])
    assert Readiness.objects.filter(patient=patient).exists()
    event = Event.objects.get(subject_ref=patient.case_reference)
    assert (event.action, event.to_state, event.channel) == ("register", "waiting", "api")
    assert event.actor == coordinator
    assert "Amal" not in str(event.details)


def test_patients_create_ignores_read_only_status(api, coordinator, facility):
    body = patient_body(status="evacuated", case_reference="EV-AAAAAA")
    response = api(coordinator).post(PATIENTS, body, format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "waiting"
    assert response.json()["case_reference"] != "EV-AAAAAA"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name_latin", ""),
        ("priority", "whenever"),
        ("clinical_category", "magic"),
        ("sex", "unknown"),
        ("date_of_birth", "not-a-date"),
        ("facility", "nowhere"),
    ],
)
def test_patients_create_invalid_field_is_400(api, coordinator, facility, field, value):
    response = api(coordinator).post(PATIENTS, patient_body(**{field: value}), format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Patient.objects.exists()


def test_patients_create_missing_field_is_400(api, coordinator, facility):
    body = patient_body()
    del body["national_id"]
    response = api(coordinator).post(PATIENTS, body, format="json")
    assert response.status_code == 400
    assert "national_id" in response.json()


def test_patients_create_future_birth_date_is_400(api, coordinator, facility):
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    response = api(coordinator).post(PATIENTS, patient_body(date_of_birth=tomorrow), format="json")
    assert response.status_code == 400
    assert "date_of_birth" in response.json()
    assert not Patient.objects.exists()
    assert not Event.objects.exists()


@pytest.mark.parametrize("who", ["nurse", "auditor"])
def test_patients_create_refused_to_readers(api, request, facility, who):
    response = api(request.getfixturevalue(who)).post(PATIENTS, patient_body(), format="json")
    assert response.status_code == 403
    assert not Patient.objects.exists()
    assert not Event.objects.exists()


def test_patients_anonymous_is_401(api, facility):
    patient = factories.PatientFactory(facility=facility)
    assert api().get(PATIENTS).status_code == 401
    assert api().get(f"{PATIENTS}{patient.case_reference}/").status_code == 401
    assert api().post(PATIENTS, patient_body(), format="json").status_code == 401
    assert Patient.objects.count() == 1


def test_patients_list_in_queue_order(api, coordinator, facility):
    now = timezone.now()
    late_critical = factories.PatientFactory(
        facility=facility, priority="critical", registered_at=now
    )
    routine = factories.PatientFactory(
        facility=facility, priority="routine", registered_at=now - dt.timedelta(days=9)
    )
    early_critical = factories.PatientFactory(
        facility=facility, priority="critical", registered_at=now - dt.timedelta(days=1)
    )
    urgent = factories.PatientFactory(
        facility=facility, priority="urgent", registered_at=now - dt.timedelta(days=5)
    )
    response = api(coordinator).get(PATIENTS)
    assert response.status_code == 200
    assert [p["case_reference"] for p in response.json()["results"]] == [
        early_critical.case_reference,
        late_critical.case_reference,
        urgent.case_reference,
        routine.case_reference,
    ]


def test_patients_list_hospital_staff_see_only_their_facility(api, nurse, facility, other_facility):
    mine = factories.PatientFactory(facility=facility)
    factories.PatientFactory(facility=other_facility)
    body = api(nurse).get(PATIENTS).json()
    assert body["count"] == 1
    assert [p["case_reference"] for p in body["results"]] == [mine.case_reference]


def test_patients_list_filters(api, coordinator, facility, other_facility):
    critical = factories.PatientFactory(facility=facility, priority="critical")
    elsewhere = factories.PatientFactory(facility=other_facility, priority="routine")
    deceased = factories.PatientFactory(facility=facility, status="deceased")
    client = api(coordinator)

    def refs(params):
        return {p["case_reference"] for p in client.get(PATIENTS, params).json()["results"]}

    assert refs({"priority": "critical"}) == {critical.case_reference}
    assert refs({"facility": "nasser"}) == {elsewhere.case_reference}
    assert refs({"status": "deceased"}) == {deceased.case_reference}
    assert refs({"clinical_category": "cardiac"}) == set()


def test_patients_list_invalid_filter_names_the_field(api, coordinator):
    response = api(coordinator).get(PATIENTS, {"priority": "whenever"})
    assert response.status_code == 400
    assert "priority" in response.json()


def test_patients_retrieve_by_case_reference(api, coordinator, facility):
    patient = factories.PatientFactory(facility=facility)
    response = api(coordinator).get(f"{PATIENTS}{patient.case_reference}/")
    assert response.status_code == 200
    body = response.json()
    assert body["case_reference"] == patient.case_reference
    assert body["name_latin"] == patient.name_latin
    assert body["diagnosis"] == "clinical detail"
    assert "id" not in body


def test_patients_retrieve_by_database_id_is_404(api, coordinator, facility):
    patient = factories.PatientFactory(facility=facility)
    assert api(coordinator).get(f"{PATIENTS}{patient.pk}/").status_code == 404


def test_patients_unknown_reference_is_404(api, coordinator):
    assert api(coordinator).get(f"{PATIENTS}EV-ZZZZZZ/").status_code == 404


def test_patients_other_facility_is_404_for_hospital_staff(api, nurse, other_facility):
    patient = factories.PatientFactory(facility=other_facility)
    assert api(nurse).get(f"{PATIENTS}{patient.case_reference}/").status_code == 404


def test_patients_own_facility_is_visible_to_hospital_staff(api, nurse, facility):
    patient = factories.PatientFactory(facility=facility)
    response = api(nurse).get(f"{PATIENTS}{patient.case_reference}/")
    assert response.status_code == 200
    assert response.json()["diagnosis"] == "clinical detail"


def test_patients_auditor_never_receives_diagnosis(api, auditor, facility):
    patient = factories.PatientFactory(facility=facility)
    client = api(auditor)
    detail = client.get(f"{PATIENTS}{patient.case_reference}/")
    assert detail.status_code == 200
    assert "diagnosis" not in detail.json()
    assert "clinical detail" not in detail.content.decode()
    listed = client.get(PATIENTS)
    assert listed.status_code == 200
    assert all("diagnosis" not in p for p in listed.json()["results"])
    assert "clinical detail" not in listed.content.decode()


def test_patients_update_changes_details(api, coordinator, facility, other_facility):
    patient = factories.PatientFactory(facility=facility, priority="routine")
    response = api(coordinator).patch(
        f"{PATIENTS}{patient.case_reference}/",
        {"priority": "critical", "facility": "nasser", "needs_stretcher": True},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["priority"] == "critical"
    assert response.json()["facility"] == "nasser"
    patient.refresh_from_db()
    assert (patient.priority, patient.facility, patient.needs_stretcher) == (
        "critical",
        other_facility,
        True,
    )


def test_patients_update_cannot_change_status(api, coordinator, facility):
    patient = factories.PatientFactory(facility=facility)
    response = api(coordinator).patch(
        f"{PATIENTS}{patient.case_reference}/", {"status": "evacuated"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "waiting"
    patient.refresh_from_db()
    assert patient.status == "waiting"


def test_patients_update_invalid_field_is_400(api, coordinator, facility):
    patient = factories.PatientFactory(facility=facility, priority="routine")
    url = f"{PATIENTS}{patient.case_reference}/"
    response = api(coordinator).patch(url, {"priority": "soon"}, format="json")
    assert response.status_code == 400
    assert "priority" in response.json()
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    response = api(coordinator).patch(url, {"date_of_birth": tomorrow}, format="json")
    assert response.status_code == 400
    assert "date_of_birth" in response.json()
    patient.refresh_from_db()
    assert patient.priority == "routine"
    assert patient.date_of_birth == dt.date(1980, 5, 17)


def test_patients_update_put_is_not_allowed(api, coordinator, facility):
    patient = factories.PatientFactory(facility=facility)
    response = api(coordinator).put(
        f"{PATIENTS}{patient.case_reference}/", patient_body(), format="json"
    )
    assert response.status_code == 405


@pytest.mark.parametrize("who", ["nurse", "auditor"])
def test_patients_update_refused_to_readers(api, request, facility, who):
    patient = factories.PatientFactory(facility=facility, priority="routine")
    response = api(request.getfixturevalue(who)).patch(
        f"{PATIENTS}{patient.case_reference}/", {"priority": "critical"}, format="json"
    )
    assert response.status_code == 403
    patient.refresh_from_db()
    assert patient.priority == "routine"


def test_patients_update_unknown_reference_is_404(api, coordinator):
    response = api(coordinator).patch(f"{PATIENTS}EV-ZZZZZZ/", {"priority": "critical"})
    assert response.status_code == 404


def test_patients_list_constant_number_of_queries(api, coordinator):
    # Each patient at its own facility, so a missing select_related shows per row.
    assert_constant_queries(
        api, coordinator, PATIENTS, lambda n: factories.PatientFactory.create_batch(n)
    )


# --- patients/{ref}/status/ -----------------------------------------------------------------


def test_patient_status_records_death(api, coordinator, facility):
    patient = factories.PatientFactory(facility=facility)
    response = api(coordinator).post(
        f"{PATIENTS}{patient.case_reference}/status/",
        {"status": "deceased", "reason_text": "died at the facility"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["status"] == "deceased"
    assert response.json()["case_reference"] == patient.case_reference
    patient.refresh_from_db()
    assert patient.status == "deceased"
    event = Event.objects.get(subject_ref=patient.case_reference, action="status_change")
    assert (event.from_state, event.to_state) == ("waiting", "deceased")
    assert event.reason_text == "died at the facility"


def test_patient_status_invalid_status_is_400(api, coordinator, facility):
    patient = factories.PatientFactory(facility=facility)
    response = api(coordinator).post(
        f"{PATIENTS}{patient.case_reference}/status/", {"status": "evacuated"}, format="json"
    )
    assert response.status_code == 400
    assert "status" in response.json()
    patient.refresh_from_db()
    assert patient.status == "waiting"


def test_patient_status_of_scheduled_patient_is_409(api, coordinator, facility, ready_patient):
    patient = ready_patient()
    batch = factories.BatchFactory(staging_facility=facility)
    batch_services.batch_add_patient(batch=batch, patient=patient, actor=coordinator)
    response = api(coordinator).post(
        f"{PATIENTS}{patient.case_reference}/status/", {"status": "withdrawn"}, format="json"
    )
    assert response.status_code == 409
    body = response.json()
    assert body["detail"]
    assert any("open batch" in p for p in body["problems"])
    patient.refresh_from_db()
    assert patient.status == "scheduled"


def test_patient_status_of_deceased_patient_is_409(api, coordinator, facility):
    patient = factories.PatientFactory(facility=facility, status="deceased")
    response = api(coordinator).post(
        f"{PATIENTS}{patient.case_reference}/status/", {"status": "withdrawn"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["problems"]
    assert not Event.objects.exists()


@pytest.mark.parametrize("who", ["nurse", "auditor"])
def test_patient_status_refused_to_readers(api, request, facility, who):
    patient = factories.PatientFactory(facility=facility)
    response = api(request.getfixturevalue(who)).post(
        f"{PATIENTS}{patient.case_reference}/status/", {"status": "deceased"}, format="json"
    )
    assert response.status_code == 403
    patient.refresh_from_db()
    assert patient.status == "waiting"
    assert not Event.objects.exists()


def test_patient_status_unknown_reference_is_404(api, coordinator):
    response = api(coordinator).post(
        f"{PATIENTS}EV-ZZZZZZ/status/", {"status": "deceased"}, format="json"
    )
    assert response.status_code == 404


# --- patients/{ref}/readiness/ --------------------------------------------------------------


def test_patient_readiness_get_returns_current_and_history(api, nurse, facility):
    patient = factories.PatientFactory(facility=facility)
    response = api(nurse).get(f"{PATIENTS}{patient.case_reference}/readiness/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"current", "history"}
    assert body["current"]["fit_to_travel"] is True
    assert body["history"] == []


def test_patient_readiness_post_by_own_nurse_keeps_history(api, nurse, facility):
    patient = factories.PatientFactory(facility=facility)
    url = f"{PATIENTS}{patient.case_reference}/readiness/"
    response = api(nurse).post(
        url, {"fit_to_travel": False, "note": "fever since last night"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["current"]["fit_to_travel"] is False
    assert body["current"]["documents_ready"] is True
    assert body["current"]["note"] == "fever since last night"
    assert body["current"]["updated_by"] == "nurse"
    assert len(body["history"]) == 1
    change = body["history"][0]
    assert change["changed_by"] == "nurse"
    assert change["old"]["fit_to_travel"] is True
    assert change["new"]["fit_to_travel"] is False
    patient.readiness.refresh_from_db()
    assert patient.readiness.fit_to_travel is False
    event = Event.objects.get(subject_ref=patient.case_reference, action="readiness_update")
    assert event.details == {"fit_to_travel": False}
    assert event.actor_role == "hospital_staff"
    assert "fever" not in str(event.details)

    again = api(nurse).get(url).json()
    assert len(again["history"]) == 1


def test_patient_readiness_post_by_coordinator(api, coordinator, facility):
    patient = factories.PatientFactory(facility=facility)
    response = api(coordinator).post(
        f"{PATIENTS}{patient.case_reference}/readiness/", {"documents_ready": False}
    )
    assert response.status_code == 201
    assert response.json()["current"]["documents_ready"] is False


def test_patient_readiness_other_facility_is_404(api, nurse, other_facility):
    patient = factories.PatientFactory(facility=other_facility)
    url = f"{PATIENTS}{patient.case_reference}/readiness/"
    assert api(nurse).get(url).status_code == 404
    response = api(nurse).post(url, {"fit_to_travel": False}, format="json")
    assert response.status_code == 404
    patient.readiness.refresh_from_db()
    assert patient.readiness.fit_to_travel is True
    assert not ReadinessChange.objects.exists()


def test_patient_readiness_invalid_value_is_400(api, nurse, facility):
    patient = factories.PatientFactory(facility=facility)
    url = f"{PATIENTS}{patient.case_reference}/readiness/"
    response = api(nurse).post(url, {"fit_to_travel": "perhaps"}, format="json")
    assert response.status_code == 400
    assert "fit_to_travel" in response.json()
    response = api(nurse).post(url, {"note": "x" * 501}, format="json")
    assert response.status_code == 400
    assert "note" in response.json()
    assert not ReadinessChange.objects.exists()


def test_patient_readiness_auditor_cannot_write(api, auditor, facility):
    patient = factories.PatientFactory(facility=facility)
    url = f"{PATIENTS}{patient.case_reference}/readiness/"
    assert api(auditor).get(url).status_code == 200
    response = api(auditor).post(url, {"fit_to_travel": False}, format="json")
    assert response.status_code == 403
    patient.readiness.refresh_from_db()
    assert patient.readiness.fit_to_travel is True
    assert not ReadinessChange.objects.exists()
    # The GET is in the access log; the refused POST left nothing.
    assert list(Event.objects.values_list("action", flat=True)) == ["view"]


def test_patient_readiness_anonymous_is_401(api, facility):
    patient = factories.PatientFactory(facility=facility)
    url = f"{PATIENTS}{patient.case_reference}/readiness/"
    assert api().get(url).status_code == 401
    assert api().post(url, {"fit_to_travel": False}).status_code == 401


def test_patient_readiness_unknown_reference_is_404(api, coordinator):
    assert api(coordinator).get(f"{PATIENTS}EV-ZZZZZZ/readiness/").status_code == 404


# --- companions/ ----------------------------------------------------------------------------


def _companion_body(of, **overrides):
    body = {
        "patient": of.case_reference,
        "name_latin": "Omar Haddad",
        "name_arabic": "عمر حداد",
        "national_id": "802345678",
        "date_of_birth": "1970-01-01",
        "sex": "male",
        "relationship": "husband",
        "is_guardian": False,
    }
    body.update(overrides)
    return body


def test_companions_create(api, coordinator, facility):
    patient = factories.PatientFactory(facility=facility)
    response = api(coordinator).post(COMPANIONS, _companion_body(patient), format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["patient"] == patient.case_reference
    assert body["relationship"] == "husband"
    companion = Companion.objects.get(pk=body["id"])
    assert companion.patient == patient


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("patient", "EV-ZZZZZZ"),
        ("relationship", ""),
        ("sex", "x"),
        ("is_guardian", "sometimes"),
        ("date_of_birth", "2999-01-01"),
    ],
)
def test_companions_create_invalid_field_is_400(api, coordinator, facility, field, value):
    patient = factories.PatientFactory(facility=facility)
    body = _companion_body(patient, **{field: value})
    response = api(coordinator).post(COMPANIONS, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Companion.objects.exists()


def test_companions_create_minor_guardian_is_400(api, coordinator, facility):
    patient = factories.PatientFactory(facility=facility)
    ten_years_ago = timezone.localdate() - dt.timedelta(days=10 * 365)
    body = _companion_body(patient, is_guardian=True, date_of_birth=ten_years_ago.isoformat())
    response = api(coordinator).post(COMPANIONS, body, format="json")
    assert response.status_code == 400
    assert "is_guardian" in response.json()
    assert not Companion.objects.exists()


@pytest.mark.parametrize("who", ["nurse", "auditor"])
def test_companions_create_refused_to_readers(api, request, facility, who):
    patient = factories.PatientFactory(facility=facility)
    user = request.getfixturevalue(who)
    response = api(user).post(COMPANIONS, _companion_body(patient), format="json")
    assert response.status_code == 403
    assert not Companion.objects.exists()


def test_companions_list_and_filter(api, coordinator, facility):
    first = factories.CompanionFactory(patient__facility=facility)
    second = factories.CompanionFactory(patient__facility=facility, is_guardian=True)
    client = api(coordinator)
    body = client.get(COMPANIONS).json()
    assert [c["id"] for c in body["results"]] == [first.pk, second.pk]
    assert body["results"][0]["patient"] == first.patient.case_reference
    by_patient = client.get(COMPANIONS, {"patient": second.patient.case_reference}).json()
    assert [c["id"] for c in by_patient["results"]] == [second.pk]
    guardians = client.get(COMPANIONS, {"is_guardian": "true"}).json()
    assert [c["id"] for c in guardians["results"]] == [second.pk]


def test_companions_hospital_staff_see_only_their_facility(api, nurse, facility, other_facility):
    mine = factories.CompanionFactory(patient__facility=facility)
    theirs = factories.CompanionFactory(patient__facility=other_facility)
    client = api(nurse)
    assert [c["id"] for c in client.get(COMPANIONS).json()["results"]] == [mine.pk]
    assert client.get(f"{COMPANIONS}{mine.pk}/").status_code == 200
    assert client.get(f"{COMPANIONS}{theirs.pk}/").status_code == 404


def test_companions_unknown_id_is_404(api, coordinator):
    assert api(coordinator).get(f"{COMPANIONS}999999/").status_code == 404


def test_companions_create_for_other_facility_patient_seen_by_coordinator(
    api, coordinator, other_facility
):
    patient = factories.PatientFactory(facility=other_facility)
    response = api(coordinator).post(COMPANIONS, _companion_body(patient), format="json")
    assert response.status_code == 201


def test_companions_update(api, coordinator, facility):
    companion = factories.CompanionFactory(patient__facility=facility)
    other_patient = factories.PatientFactory(facility=facility)
    response = api(coordinator).patch(
        f"{COMPANIONS}{companion.pk}/",
        {"relationship": "cousin", "patient": other_patient.case_reference},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["relationship"] == "cousin"
    # A companion never moves to another patient.
    assert response.json()["patient"] == companion.patient.case_reference
    companion.refresh_from_db()
    assert companion.relationship == "cousin"
    assert companion.patient_id != other_patient.pk


def test_companions_update_invalid_is_400(api, coordinator, facility):
    companion = factories.CompanionFactory(patient__facility=facility)
    response = api(coordinator).patch(
        f"{COMPANIONS}{companion.pk}/", {"sex": "other"}, format="json"
    )
    assert response.status_code == 400
    assert "sex" in response.json()


def test_companions_update_refused_to_auditor(api, auditor, facility):
    companion = factories.CompanionFactory(patient__facility=facility, relationship="brother")
    response = api(auditor).patch(
        f"{COMPANIONS}{companion.pk}/", {"relationship": "cousin"}, format="json"
    )
    assert response.status_code == 403
    companion.refresh_from_db()
    assert companion.relationship == "brother"


def test_companions_anonymous_is_401(api):
    assert api().get(COMPANIONS).status_code == 401


def test_companions_list_constant_number_of_queries(api, coordinator):
    assert_constant_queries(
        api, coordinator, COMPANIONS, lambda n: factories.CompanionFactory.create_batch(n)
    )


# --- referrals/ -----------------------------------------------------------------------------


def _referral_body(of, **overrides):
    body = {
        "patient": of.case_reference,
        "number": "MOH-2026-0001",
        "specialty": "oncology",
        "referring_facility": "al-amal",
        "destination_country": "Egypt",
        "destination_hospital": "Al-Arish General",
        "issued_on": "2026-01-10",
        "expires_on": "2026-06-10",
    }
    body.update(overrides)
    return body


def test_referrals_create_is_pending(api, coordinator, facility):
    patient = factories.PatientFactory(facility=facility)
    response = api(coordinator).post(REFERRALS, _referral_body(patient), format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "pending"
    assert body["patient"] == patient.case_reference
    assert body["referring_facility"] == "al-amal"
    assert Referral.objects.get(pk=body["id"]).number == "MOH-2026-0001"


def test_referrals_create_ignores_read_only_status(api, coordinator, facility):
    patient = factories.PatientFactory(facility=facility)
    body = _referral_body(patient, status="approved")
    response = api(coordinator).post(REFERRALS, body, format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "pending"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("patient", "EV-ZZZZZZ"),
        ("referring_facility", "nowhere"),
        ("issued_on", "yesterday"),
        ("destination_country", ""),
        ("expires_on", "2025-12-31"),
    ],
)
def test_referrals_create_invalid_field_is_400(api, coordinator, facility, field, value):
    patient = factories.PatientFactory(facility=facility)
    response = api(coordinator).post(
        REFERRALS, _referral_body(patient, **{field: value}), format="json"
    )
    assert response.status_code == 400
    assert field in response.json()
    assert not Referral.objects.exists()


def test_referrals_create_duplicate_number_is_400(api, coordinator, facility):
    patient = factories.PatientFactory(facility=facility)
    factories.ReferralFactory(patient=patient, number="MOH-2026-0001")
    response = api(coordinator).post(REFERRALS, _referral_body(patient), format="json")
    assert response.status_code == 400
    assert "number" in response.json()


@pytest.mark.parametrize("who", ["nurse", "auditor"])
def test_referrals_create_refused_to_readers(api, request, facility, who):
    patient = factories.PatientFactory(facility=facility)
    user = request.getfixturevalue(who)
    response = api(user).post(REFERRALS, _referral_body(patient), format="json")
    assert response.status_code == 403
    assert not Referral.objects.exists()


def test_referrals_list_retrieve_and_filter(api, coordinator, facility):
    pending = factories.ReferralFactory(patient__facility=facility, status="pending")
    approved = factories.ReferralFactory(patient__facility=facility)
    client = api(coordinator)
    assert [r["id"] for r in client.get(REFERRALS).json()["results"]] == [pending.pk, approved.pk]
    filtered = client.get(REFERRALS, {"status": "approved"}).json()["results"]
    assert [r["id"] for r in filtered] == [approved.pk]
    by_patient = client.get(REFERRALS, {"patient": pending.patient.case_reference}).json()
    assert [r["id"] for r in by_patient["results"]] == [pending.pk]
    detail = client.get(f"{REFERRALS}{approved.pk}/")
    assert detail.status_code == 200
    assert detail.json()["number"] == approved.number


def test_referrals_invalid_filter_names_the_field(api, coordinator):
    response = api(coordinator).get(REFERRALS, {"status": "lost"})
    assert response.status_code == 400
    assert "status" in response.json()


def test_referrals_hospital_staff_see_only_their_facility(api, nurse, facility, other_facility):
    mine = factories.ReferralFactory(patient__facility=facility)
    theirs = factories.ReferralFactory(patient__facility=other_facility)
    client = api(nurse)
    assert [r["id"] for r in client.get(REFERRALS).json()["results"]] == [mine.pk]
    assert client.get(f"{REFERRALS}{theirs.pk}/").status_code == 404


def test_referrals_are_not_edited_in_place(api, coordinator, facility):
    referral = factories.ReferralFactory(patient__facility=facility)
    response = api(coordinator).patch(
        f"{REFERRALS}{referral.pk}/", {"status": "rejected"}, format="json"
    )
    assert response.status_code == 405
    referral.refresh_from_db()
    assert referral.status == "approved"


def test_referral_decision_approves(api, coordinator, facility):
    referral = factories.ReferralFactory(patient__facility=facility, status="pending")
    response = api(coordinator).post(
        f"{REFERRALS}{referral.pk}/decision/", {"status": "approved"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "approved"
    referral.refresh_from_db()
    assert referral.status == "approved"
    event = Event.objects.get(action="referral_decision")
    assert event.subject_ref == referral.patient.case_reference
    assert (event.from_state, event.to_state) == ("pending", "approved")


def test_referral_decision_refused_transition_is_409(api, coordinator, facility):
    referral = factories.ReferralFactory(patient__facility=facility, status="rejected")
    response = api(coordinator).post(
        f"{REFERRALS}{referral.pk}/decision/", {"status": "approved"}, format="json"
    )
    assert response.status_code == 409
    body = response.json()
    assert body["detail"]
    assert body["problems"] == [
        f"referral {referral.number} is rejected and cannot become approved"
    ]
    referral.refresh_from_db()
    assert referral.status == "rejected"
    assert not Event.objects.exists()


def test_referral_decision_invalid_status_is_400(api, coordinator, facility):
    referral = factories.ReferralFactory(patient__facility=facility, status="pending")
    response = api(coordinator).post(
        f"{REFERRALS}{referral.pk}/decision/", {"status": "pending"}, format="json"
    )
    assert response.status_code == 400
    assert "status" in response.json()


@pytest.mark.parametrize("who", ["nurse", "auditor"])
def test_referral_decision_refused_to_readers(api, request, facility, who):
    referral = factories.ReferralFactory(patient__facility=facility, status="pending")
    response = api(request.getfixturevalue(who)).post(
        f"{REFERRALS}{referral.pk}/decision/", {"status": "approved"}, format="json"
    )
    assert response.status_code == 403
    referral.refresh_from_db()
    assert referral.status == "pending"
    assert not Event.objects.exists()


def test_referral_decision_unknown_id_is_404(api, coordinator):
    response = api(coordinator).post(
        f"{REFERRALS}999999/decision/", {"status": "approved"}, format="json"
    )
    assert response.status_code == 404


def test_referrals_anonymous_is_401(api):
    assert api().get(REFERRALS).status_code == 401


def test_referrals_list_constant_number_of_queries(api, coordinator):
    assert_constant_queries(
        api, coordinator, REFERRALS, lambda n: factories.ReferralFactory.create_batch(n)
    )


# --- returnees/ -----------------------------------------------------------------------------


def _returnee_body(**overrides):
    body = {
        "name_latin": "Sami Nasser",
        "name_arabic": "سامي ناصر",
        "national_id": "901234567",
        "date_of_birth": "1990-03-03",
        "sex": "male",
        "phone": "+201000000000",
        "left_on": "2024-05-01",
    }
    body.update(overrides)
    return body


def test_returnees_create(api, coordinator):
    response = api(coordinator).post(RETURNEES, _returnee_body(), format="json")
    assert response.status_code == 201
    body = response.json()
    assert re.fullmatch(r"RT-[2-9A-HJKMNP-Z]{6}", body["reference"])
    assert body["status"] == "waiting"
    returnee = Returnee.objects.get(reference=body["reference"])
    event = Event.objects.get(subject_ref=returnee.reference)
    assert (event.subject_type, event.action) == ("returnee", "register")


def test_returnees_create_left_before_the_war_is_400(api, coordinator):
    response = api(coordinator).post(RETURNEES, _returnee_body(left_on="2023-01-01"), format="json")
    assert response.status_code == 400
    assert "left_on" in response.json()
    assert not Returnee.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"), [("sex", "x"), ("name_latin", ""), ("left_on", "later")]
)
def test_returnees_create_invalid_field_is_400(api, coordinator, field, value):
    response = api(coordinator).post(RETURNEES, _returnee_body(**{field: value}), format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Returnee.objects.exists()


@pytest.mark.parametrize("who", ["nurse", "auditor"])
def test_returnees_create_refused_to_readers(api, request, who):
    response = api(request.getfixturevalue(who)).post(RETURNEES, _returnee_body(), format="json")
    assert response.status_code == 403
    assert not Returnee.objects.exists()


def test_returnees_list_retrieve_and_filter(api, auditor):
    waiting = factories.ReturneeFactory()
    withdrawn = factories.ReturneeFactory(status="withdrawn")
    client = api(auditor)
    body = client.get(RETURNEES).json()
    assert [r["reference"] for r in body["results"]] == [waiting.reference, withdrawn.reference]
    filtered = client.get(RETURNEES, {"status": "withdrawn"}).json()["results"]
    assert [r["reference"] for r in filtered] == [withdrawn.reference]
    detail = client.get(f"{RETURNEES}{waiting.reference}/")
    assert detail.status_code == 200
    assert detail.json()["left_on"] == "2024-05-01"


def test_returnees_hidden_from_hospital_staff(api, nurse):
    returnee = factories.ReturneeFactory()
    client = api(nurse)
    assert client.get(RETURNEES).json()["count"] == 0
    assert client.get(f"{RETURNEES}{returnee.reference}/").status_code == 404


def test_returnees_unknown_reference_is_404(api, coordinator):
    assert api(coordinator).get(f"{RETURNEES}RT-ZZZZZZ/").status_code == 404


def test_returnee_withdraw(api, coordinator):
    returnee = factories.ReturneeFactory()
    response = api(coordinator).post(
        f"{RETURNEES}{returnee.reference}/withdraw/",
        {"reason_text": "stays with family abroad"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"
    returnee.refresh_from_db()
    assert returnee.status == "withdrawn"
    event = Event.objects.get(subject_ref=returnee.reference, action="status_change")
    assert event.reason_text == "stays with family abroad"


def test_returnee_withdraw_twice_is_409(api, coordinator):
    returnee = factories.ReturneeFactory(status="withdrawn")
    response = api(coordinator).post(f"{RETURNEES}{returnee.reference}/withdraw/")
    assert response.status_code == 409
    assert response.json()["problems"]
    assert response.json()["detail"]


def test_returnee_withdraw_scheduled_is_409(api, coordinator, facility):
    returnee = factories.ReturneeFactory()
    batch = factories.BatchFactory(direction="return", staging_facility=facility)
    batch_services.batch_add_returnee(batch=batch, returnee=returnee, actor=coordinator)
    response = api(coordinator).post(f"{RETURNEES}{returnee.reference}/withdraw/")
    assert response.status_code == 409
    assert any("open batch" in p for p in response.json()["problems"])
    returnee.refresh_from_db()
    assert returnee.status == "scheduled"


def test_returnee_withdraw_text_too_long_is_400(api, coordinator):
    returnee = factories.ReturneeFactory()
    response = api(coordinator).post(
        f"{RETURNEES}{returnee.reference}/withdraw/", {"reason_text": "x" * 2001}, format="json"
    )
    assert response.status_code == 400
    assert "reason_text" in response.json()


def test_returnee_withdraw_refused_to_auditor(api, auditor):
    returnee = factories.ReturneeFactory()
    response = api(auditor).post(f"{RETURNEES}{returnee.reference}/withdraw/")
    assert response.status_code == 403
    returnee.refresh_from_db()
    assert returnee.status == "waiting"
    assert not Event.objects.exists()


def test_returnee_withdraw_unknown_reference_is_404(api, coordinator):
    assert api(coordinator).post(f"{RETURNEES}RT-ZZZZZZ/withdraw/").status_code == 404


def test_returnees_anonymous_is_401(api):
    assert api().get(RETURNEES).status_code == 401
    assert api().post(RETURNEES, _returnee_body(), format="json").status_code == 401


def test_returnees_list_constant_number_of_queries(api, coordinator):
    assert_constant_queries(
        api, coordinator, RETURNEES, lambda n: factories.ReturneeFactory.create_batch(n)
    )


def test_readiness_note_is_hidden_from_auditors(api, coordinator, auditor, facility):
    from patients.services import readiness_update

    patient = factories.PatientFactory(facility=facility)
    readiness_update(patient=patient, actor=coordinator, note="SENTINEL-NOTE")
    url = f"/api/v1/patients/{patient.case_reference}/readiness/"
    assert "SENTINEL-NOTE" in api(coordinator).get(url).content.decode()
    body = api(auditor).get(url).content.decode()
    assert "SENTINEL-NOTE" not in body
    assert '"fit_to_travel"' in body
