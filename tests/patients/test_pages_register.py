"""Registering a case on the field page: the patient, two companions and a referral on one form,
submitted as the page renders it, saved all or nothing."""

import datetime as dt

import pytest
from bs4 import BeautifulSoup
from django.urls import reverse

from casetracker.audit.models import Event
from patients import forms as patient_forms
from patients import services
from patients.models import Companion, Patient, Readiness, Referral
from tests import factories
from tests.html_forms import FormError, read_form

pytestmark = pytest.mark.django_db

URL = "/patients/new/"
PATIENT_ID = "400123456"
COMPANION_IDS = ("800111222", "800333444")


def _patient_fields(facility, **overrides) -> dict:
    return {
        "name_latin": "Huda Barhoum",
        "name_arabic": "هدى برهوم",
        "national_id": PATIENT_ID,
        "date_of_birth": "1980-05-17",
        "sex": "female",
        "phone": "+970599000111",
        "sms_consent": True,
        "contact_language": "ar",
        "facility": str(facility.pk),
        "priority": "critical",
        "clinical_category": "oncology",
        "diagnosis": "SENTINEL-DIAGNOSIS",
        "needs_oxygen": True,
        **overrides,
    }


def _companion_fields(index: int, **overrides) -> dict:
    values = {
        "name_latin": ("Samir Barhoum", "Mona Barhoum")[index],
        "name_arabic": ("سمير برهوم", "منى برهوم")[index],
        "national_id": COMPANION_IDS[index],
        "date_of_birth": ("1975-01-01", "2001-03-09")[index],
        "sex": ("male", "female")[index],
        "relationship": ("husband", "daughter")[index],
        "is_guardian": index == 0,
        **overrides,
    }
    return {f"companions-{index}-{name}": value for name, value in values.items()}


def _referral_fields(facility, **overrides) -> dict:
    values = {
        "number": "MOH-2026-0042",
        "specialty": "oncology",
        "referring_facility": str(facility.pk),
        "destination_country": "Egypt",
        "destination_hospital": "Al-Arish General",
        "issued_on": "2026-01-10",
        "expires_on": "2099-04-10",
        **overrides,
    }
    return {f"referral-{name}": value for name, value in values.items()}


def _form(client):
    page = client.get(URL)
    assert page.status_code == 200
    return read_form(page, "#register")


def _errors_beside(response, field_name: str) -> str:
    """The error text shown in the box of the field named `field_name`."""
    soup = BeautifulSoup(response.content.decode(), "html.parser")
    control = soup.find(attrs={"name": field_name})
    assert control is not None, field_name
    box = control.find_parent(class_="field")
    errors = box.find(class_="errorlist")
    return errors.get_text(" ", strip=True) if errors else ""


def _counts() -> tuple[int, ...]:
    return (
        Patient.objects.count(),
        Companion.objects.count(),
        Referral.objects.count(),
        Readiness.objects.count(),
        Event.objects.count(),
    )


def test_register_with_two_companions_and_a_referral_saves_the_case(client, coordinator, facility):
    client.force_login(coordinator)
    form = _form(client)
    form.fill(**_patient_fields(facility), **_companion_fields(0), **_companion_fields(1))
    form.fill(**_referral_fields(facility))
    response = form.submit(client)

    patient = Patient.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("patients:detail", args=[patient.case_reference])
    assert (patient.name_arabic, patient.national_id, patient.priority) == (
        "هدى برهوم",
        PATIENT_ID,
        "critical",
    )
    assert patient.needs_oxygen and patient.sms_consent and patient.facility == facility
    assert patient.status == "waiting"
    companions = list(patient.companions.order_by("id"))
    assert [(c.name_latin, c.relationship, c.is_guardian) for c in companions] == [
        ("Samir Barhoum", "husband", True),
        ("Mona Barhoum", "daughter", False),
    ]
    referral = patient.referrals.get()
    assert (referral.number, referral.status, referral.expires_on) == (
        "MOH-2026-0042",
        "pending",
        dt.date(2099, 4, 10),
    )
    assert hasattr(patient, "readiness")

    events = Event.objects.filter(subject_ref=patient.case_reference).order_by("id")
    assert [(e.action, e.subject_type) for e in events] == [
        ("register", "patient"),
        ("companion_add", "patient"),
        ("companion_add", "patient"),
        ("create", "referral"),
    ]
    assert all(e.actor == coordinator and e.channel == "web" for e in events)
    assert events[1].details == {"companion": companions[0].pk, "guardian": True}
    # No national ID, name or diagnosis in any event of the log.
    every_event = str(list(Event.objects.values()))
    for secret in (PATIENT_ID, *COMPANION_IDS, "Barhoum", "برهوم", "SENTINEL-DIAGNOSIS"):
        assert secret not in every_event

    page = client.get(response.url)
    assert f"Patient {patient.case_reference} registered." in page.content.decode()


def test_register_with_no_companion_and_no_referral(client, coordinator, facility):
    client.force_login(coordinator)
    response = _form(client).fill(**_patient_fields(facility)).submit(client)
    assert response.status_code == 302
    patient = Patient.objects.get()
    assert not patient.companions.exists() and not patient.referrals.exists()
    assert list(Event.objects.values_list("action", flat=True)) == ["register"]


def test_register_duplicate_national_id_is_shown_beside_the_field(client, coordinator, facility):
    other = factories.PatientFactory(national_id=PATIENT_ID)
    before = _counts()
    client.force_login(coordinator)
    # Typed with Arabic-Indic digits and spaces: the same number.
    form = _form(client).fill(**_patient_fields(facility, national_id="٤٠٠ ١٢٣ ٤٥٦"))
    response = form.fill(**_companion_fields(0)).submit(client)
    assert response.status_code == 400
    errors = _errors_beside(response, "national_id")
    assert "already registered" in errors
    assert other.case_reference in errors  # a coordinator may open the other case
    assert _counts() == before
    # What was typed is still there, to be corrected.
    again = read_form(response, "#register", url=URL)
    assert again.value("companions-0-name_latin") == "Samir Barhoum"


def test_register_duplicate_found_only_by_the_service_is_shown_beside_the_field(
    client, coordinator, facility, monkeypatch
):
    """Two coordinators registering one number at once: the page's check passed for both, the
    service (under its lock) refuses the second; the error still lands beside the field."""
    client.force_login(coordinator)
    form = _form(client).fill(**_patient_fields(facility), **_companion_fields(0))
    factories.PatientFactory(national_id=PATIENT_ID)
    monkeypatch.setattr(patient_forms.PatientForm, "clean", patient_forms.forms.ModelForm.clean)
    before = _counts()
    response = form.submit(client)
    assert response.status_code == 400
    assert "already registered" in _errors_beside(response, "national_id")
    assert _counts() == before


def test_register_companion_born_in_the_future_saves_nothing(client, coordinator, facility):
    before = _counts()
    client.force_login(coordinator)
    form = _form(client).fill(**_patient_fields(facility), **_companion_fields(0))
    form.fill(**_companion_fields(1, date_of_birth="2999-01-01"), **_referral_fields(facility))
    response = form.submit(client)
    assert response.status_code == 400
    assert "in the future" in _errors_beside(response, "companions-1-date_of_birth")
    assert _errors_beside(response, "companions-0-date_of_birth") == ""
    assert _counts() == before


def test_register_companion_refused_by_the_service_leaves_no_patient(
    client, coordinator, facility, monkeypatch
):
    """The service alone refuses the second companion (the page's own check switched off): the
    patient and the first companion it had already saved are rolled back with it."""
    client.force_login(coordinator)
    monkeypatch.setattr(
        patient_forms.CompanionForm, "_post_clean", patient_forms.forms.BaseForm._post_clean
    )
    before = _counts()
    form = _form(client).fill(**_patient_fields(facility), **_companion_fields(0))
    form.fill(**_companion_fields(1, date_of_birth="2999-01-01"))
    response = form.submit(client)
    assert response.status_code == 400
    assert "in the future" in _errors_beside(response, "companions-1-date_of_birth")
    assert _counts() == before


def test_register_service_is_all_or_nothing(coordinator, facility):
    data = _patient_fields(facility)
    data.update(facility=facility, date_of_birth=dt.date(1980, 5, 17))
    good = {
        "name_latin": "Samir",
        "name_arabic": "سمير",
        "national_id": "800111222",
        "date_of_birth": dt.date(1975, 1, 1),
        "sex": "male",
        "relationship": "husband",
        "is_guardian": True,
    }
    bad = {**good, "date_of_birth": dt.date(2999, 1, 1)}
    referral = {
        "number": "R-1",
        "specialty": "oncology",
        "referring_facility": facility,
        "destination_country": "Egypt",
        "issued_on": dt.date(2026, 1, 10),
        "expires_on": dt.date(2026, 1, 1),  # before it was issued
    }
    with pytest.raises(services.RegistrationRefused) as refused:
        services.patient_register_with_family(
            actor=coordinator, patient=data, companions=[good, bad], referral=referral
        )
    parts = [(part, index, sorted(exc.message_dict)) for part, index, exc in refused.value.parts]
    # Every refused part is named, so the page can show every mistake at once.
    assert parts == [("companion", 1, ["date_of_birth"]), ("referral", None, ["expires_on"])]
    assert "companions.1.date_of_birth" in refused.value.message_dict
    assert not Patient.objects.exists() and not Companion.objects.exists()
    assert not Event.objects.exists()


def test_register_required_choices_are_not_preselected(client, coordinator, facility):
    client.force_login(coordinator)
    form = _form(client)
    for name in ("priority", "clinical_category", "sex", "facility"):
        control = form.controls[name][0]
        assert control.required, name
        assert control.value == "", f"{name} is preselected"
        assert form.tag.select_one(f"select[name={name}] option").get_text() == "Choose…"
    filled = _patient_fields(facility)
    for name in ("priority", "clinical_category", "sex"):
        left_out = {k: v for k, v in filled.items() if k != name}
        with pytest.raises(FormError, match=name):
            _form(client).fill(**left_out).submit(client)
    # The companion rows and the referral are optional: nothing in them is required.
    assert not any(
        c.required
        for name, controls in form.controls.items()
        if name.startswith(("companions-", "referral-"))
        for c in controls
    )
    # The formset's bookkeeping is hidden and posted as rendered.
    assert form.value("companions-TOTAL_FORMS") == "2"
    with pytest.raises(FormError, match="hidden"):
        form.fill(**{"companions-TOTAL_FORMS": "5"})
    assert not Patient.objects.exists()


def test_register_a_referral_begun_must_be_complete(client, coordinator, facility):
    client.force_login(coordinator)
    form = _form(client).fill(**_patient_fields(facility), **{"referral-number": "MOH-1"})
    response = form.submit(client)
    assert response.status_code == 400
    assert "required" in _errors_beside(response, "referral-specialty")
    assert not Patient.objects.exists()


def test_register_child_without_guardian_is_saved_with_a_warning(client, coordinator, facility):
    client.force_login(coordinator)
    born = (dt.date.today() - dt.timedelta(days=365 * 9)).isoformat()
    form = _form(client).fill(**_patient_fields(facility, date_of_birth=born))
    form.fill(**_companion_fields(0, is_guardian=False))
    response = form.submit(client)
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert "is under 18 and has no guardian yet" in page
    assert "an adult guardian among the companions" in page


def test_register_refused_to_hospital_staff_and_auditors(client, nurse, auditor):
    for user in (nurse, auditor):
        client.force_login(user)
        assert client.get(URL).status_code == 403
        assert client.post(URL, {}).status_code == 403
    assert not Patient.objects.exists()


def test_register_page_in_arabic(client, coordinator, facility):
    coordinator.preferred_language = "ar"
    coordinator.save()
    client.force_login(coordinator)
    page = client.get(URL)
    html = page.content.decode()
    assert '<html lang="ar" dir="rtl">' in html
    form = read_form(page, "#register")
    soup = BeautifulSoup(html, "html.parser")
    option = soup.select_one(f"select[name=facility] option[value='{facility.pk}']")
    assert option.get_text() == facility.name_ar
    response = form.fill(**_patient_fields(facility)).submit(client)
    assert response.status_code == 302
    assert Patient.objects.get().facility == facility
