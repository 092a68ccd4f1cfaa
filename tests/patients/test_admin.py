import pytest
from django.urls import reverse

from casetracker.audit.models import Event
from patients.models import Patient, ReadinessChange
from tests import factories
from tests.api_helpers import admin_patient_form

pytestmark = pytest.mark.django_db


def test_admin_patient_add_registers_through_the_service(client, coordinator, facility):
    client.force_login(coordinator)
    response = client.post(reverse("admin:patients_patient_add"), admin_patient_form(facility))
    assert response.status_code == 302
    patient = Patient.objects.get()
    assert patient.name_arabic == "هدى برهوم"
    assert patient.case_reference.startswith("EV-")
    assert hasattr(patient, "readiness")
    event = Event.objects.get(subject_ref=patient.case_reference, action="register")
    assert (event.channel, event.actor) == ("admin", coordinator)


def test_admin_patient_add_rejects_a_future_birth_date(client, coordinator, facility):
    client.force_login(coordinator)
    response = client.post(
        reverse("admin:patients_patient_add"),
        admin_patient_form(facility, date_of_birth="2999-01-01"),
    )
    assert response.status_code == 200
    assert "date of birth is in the future" in response.content.decode()
    assert not Patient.objects.exists()


def test_admin_hospital_staff_record_readiness_with_history(client, nurse, facility):
    patient = factories.PatientFactory(facility=facility, readiness__fit_to_travel=False)
    client.force_login(nurse)
    url = reverse("admin:patients_readiness_change", args=[patient.readiness.pk])
    page = client.get(url)
    assert page.status_code == 200
    response = client.post(
        url,
        {
            "fit_to_travel": "on",
            "documents_ready": "on",
            "companions_present": "on",
            "transport_confirmed": "on",
            "note": "oxygen cylinder arranged",
        },
    )
    assert response.status_code == 302
    change = ReadinessChange.objects.get(patient=patient)
    assert (change.old["fit_to_travel"], change.new["fit_to_travel"]) == (False, True)
    assert change.changed_by == nurse
    event = Event.objects.get(subject_ref=patient.case_reference, action="readiness_update")
    assert event.details == {"fit_to_travel": True}
    assert "oxygen" not in str(event.details)


def test_admin_hospital_staff_cannot_open_another_facilitys_patient(client, nurse, other_facility):
    patient = factories.PatientFactory(facility=other_facility)
    client.force_login(nurse)
    response = client.get(reverse("admin:patients_patient_change", args=[patient.pk]))
    # Exactly like an object that does not exist: a plain 404, no message naming the id.
    assert response.status_code == 404
    listing = client.get(reverse("admin:patients_patient_changelist")).content.decode()
    assert patient.case_reference not in listing


def test_admin_auditor_sees_no_diagnosis_and_cannot_change(client, auditor, facility):
    patient = factories.PatientFactory(facility=facility, diagnosis="SENTINEL-DIAGNOSIS")
    client.force_login(auditor)
    page = client.get(reverse("admin:patients_patient_change", args=[patient.pk]))
    assert page.status_code == 200
    assert "SENTINEL-DIAGNOSIS" not in page.content.decode()
    response = client.post(
        reverse("admin:patients_patient_change", args=[patient.pk]),
        admin_patient_form(facility, name_latin="Changed"),
    )
    assert response.status_code == 403
    assert Patient.objects.get(pk=patient.pk).name_latin != "Changed"


def test_admin_event_log_is_read_only(client, admin_user, coordinator, facility):
    from patients.services import patient_register

    patient_register(
        actor=coordinator,
        name_latin="A",
        name_arabic="أ",
        national_id="1",
        date_of_birth="1990-01-01",
        sex="male",
        facility=facility,
        priority="routine",
        clinical_category="other",
    )
    event = Event.objects.get()
    client.force_login(admin_user)
    assert client.get(reverse("admin:audit_event_changelist")).status_code == 200
    assert client.get(reverse("admin:audit_event_change", args=[event.pk])).status_code == 200
    assert client.post(reverse("admin:audit_event_delete", args=[event.pk])).status_code == 403
    assert client.get(reverse("admin:audit_event_add")).status_code == 403


def test_admin_auditor_sees_no_readiness_note(client, auditor, facility):
    patient = factories.PatientFactory(facility=facility, readiness__note="SENTINEL-NOTE")
    client.force_login(auditor)
    page = client.get(reverse("admin:patients_readiness_change", args=[patient.readiness.pk]))
    assert page.status_code == 200
    assert "SENTINEL-NOTE" not in page.content.decode()
