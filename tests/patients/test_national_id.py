"""National IDs: encrypted at rest, found by their keyed hash, rotated, refused twice."""

import io
import json

import pytest
from cryptography.fernet import Fernet
from django.core import serializers
from django.core.exceptions import FieldError, ValidationError
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from casetracker import crypto
from patients.models import Companion, Patient, Returnee
from patients.selectors import patient_search
from patients.services import (
    companion_add,
    patient_register,
    patient_set_status,
    patient_update,
    returnee_register,
    returnee_withdraw,
)
from tests import factories
from tests.api_helpers import admin_patient_form

pytestmark = pytest.mark.django_db

SENTINEL = "400123456"
ARABIC_SENTINEL = "٤٠٠١٢٣٤٥٦"
KEY_A = crypto.INSECURE_DEFAULT_ENCRYPTION_KEY
KEY_B = Fernet.generate_key().decode()


def _register(actor, facility, **overrides):
    data = {
        "name_latin": "Huda Barhoum",
        "name_arabic": "هدى برهوم",
        "national_id": SENTINEL,
        "date_of_birth": "1979-04-02",
        "sex": "female",
        "facility": facility,
        "priority": "critical",
        "clinical_category": "oncology",
    }
    return patient_register(actor=actor, **{**data, **overrides})


def _returnee(actor, **overrides):
    data = {
        "name_latin": "Sami Nasser",
        "name_arabic": "سامي ناصر",
        "national_id": "901234567",
        "date_of_birth": "1990-03-03",
        "sex": "male",
        "left_on": "2024-05-01",
    }
    return returnee_register(actor=actor, **{**data, **overrides})


def _raw_rows(model) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(model._meta.db_table)}")  # noqa: S608
        return cursor.fetchall()


def _raw_token(patient) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT national_id_encrypted FROM patients_patient WHERE id = %s", [patient.pk]
        )
        return cursor.fetchone()[0]


# --- Storage --------------------------------------------------------------------------------


def test_national_id_round_trip(coordinator, facility):
    patient = _register(coordinator, facility)
    assert Patient.objects.get(pk=patient.pk).national_id == SENTINEL


def test_national_id_is_stored_normalised(coordinator, facility):
    patient = _register(coordinator, facility, national_id="٤٠٠ ١٢٣-٤٥٦")
    assert patient.national_id == SENTINEL
    assert Patient.objects.get(pk=patient.pk).national_id == SENTINEL
    assert patient.national_id_hash == crypto.keyed_hash(SENTINEL)


def test_national_id_raw_columns_hold_no_clear_value(coordinator, facility):
    patient = _register(coordinator, facility)
    factories.CompanionFactory(patient=patient, national_id="400123457")
    factories.ReturneeFactory(national_id="400123458")
    for model, clear in ((Patient, SENTINEL), (Companion, "400123457"), (Returnee, "400123458")):
        rows = _raw_rows(model)
        assert rows
        assert all(clear not in str(value) for row in rows for value in row), model
    assert _raw_token(patient).startswith("gAAAAA")


def test_national_id_dumpdata_holds_no_clear_value_and_loads_back(coordinator, facility):
    patient = _register(coordinator, facility)
    factories.CompanionFactory(patient=patient, national_id="400123457")
    factories.ReturneeFactory(national_id="400123458")
    out = io.StringIO()
    call_command("dumpdata", "patients", "audit", format="json", stdout=out)
    dump = out.getvalue()
    for clear in (SENTINEL, "400123457", "400123458"):
        assert clear not in dump
    loaded = {
        type(o.object).__name__: o.object.national_id
        for o in serializers.deserialize("json", dump)
        if hasattr(o.object, "national_id")
    }
    assert loaded == {"Patient": SENTINEL, "Companion": "400123457", "Returnee": "400123458"}


@pytest.mark.postgres
def test_national_id_postgres_table_holds_no_clear_value(require_postgres, coordinator, facility):
    patient = _register(coordinator, facility)
    factories.CompanionFactory(patient=patient, national_id="400123457")
    factories.ReturneeFactory(national_id="400123458")
    with connection.cursor() as cursor:
        for table, clear in (
            ("patients_patient", SENTINEL),
            ("patients_companion", "400123457"),
            ("patients_returnee", "400123458"),
            ("audit_event", SENTINEL),
        ):
            # The whole row as text: no column, whatever its name, holds the number.
            cursor.execute(f"SELECT t::text FROM {table} t")  # noqa: S608
            rows = [r[0] for r in cursor.fetchall()]
            assert rows, table
            assert not [r for r in rows if clear in r], table


def test_national_id_cannot_be_filtered_on_directly(coordinator, facility):
    _register(coordinator, facility)
    # A fresh token never equals the stored one: an exact filter would silently find nothing.
    with pytest.raises(FieldError):
        list(Patient.objects.filter(national_id=SENTINEL))


# --- Wrong keys -----------------------------------------------------------------------------


def test_national_id_wrong_key_fails_closed_with_a_clear_error(settings, coordinator, facility):
    patient = _register(coordinator, facility)
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    with pytest.raises(crypto.DecryptionError) as info:
        Patient.objects.get(pk=patient.pk)
    message = str(info.value)
    assert "FIELD_ENCRYPTION_KEYS" in message
    assert SENTINEL not in message and _raw_token(patient) not in message


def test_national_id_wrong_key_api_answers_a_bare_500(settings, api, coordinator, facility, caplog):
    patient = _register(coordinator, facility)
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    client = api(coordinator)
    client.raise_request_exception = False
    token = _raw_token(patient)
    for url in (f"/api/v1/patients/{patient.case_reference}/", "/api/v1/patients/"):
        response = client.get(url)
        assert response.status_code == 500
        body = response.content.decode()
        for private in (SENTINEL, token, "Huda", "FIELD_ENCRYPTION_KEYS"):
            assert private not in body
    assert SENTINEL not in caplog.text and token not in caplog.text


# --- Search ---------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", [SENTINEL, ARABIC_SENTINEL, "400-123 456", "۴۰۰۱۲۳۴۵۶"])
def test_patient_search_finds_the_number_in_any_digit_form(coordinator, facility, typed):
    patient = _register(coordinator, facility)
    factories.PatientFactory(facility=facility)
    assert list(patient_search(coordinator, national_id=typed)) == [patient]


def test_patient_search_is_scoped_to_the_users_facility(coordinator, nurse, other_nurse, facility):
    patient = _register(coordinator, facility)
    assert list(patient_search(nurse, national_id=SENTINEL)) == [patient]
    assert list(patient_search(other_nurse, national_id=SENTINEL)) == []


# --- Validation and duplicates --------------------------------------------------------------


@pytest.mark.parametrize("bad", ["40012345A", "400.123", "", "\u200e400123"])
def test_patient_register_refuses_a_national_id_that_is_not_digits(coordinator, facility, bad):
    with pytest.raises(ValidationError) as info:
        _register(coordinator, facility, national_id=bad)
    assert "national_id" in info.value.message_dict
    assert not Patient.objects.exists()


def test_patient_register_refuses_more_than_20_digits(coordinator, facility):
    with pytest.raises(ValidationError) as info:
        _register(coordinator, facility, national_id="1" * 21)
    assert "national_id" in info.value.message_dict


def test_patient_register_refuses_a_duplicate_of_an_open_case(coordinator, facility):
    first = _register(coordinator, facility)
    with pytest.raises(ValidationError) as info:
        _register(coordinator, facility, national_id=ARABIC_SENTINEL)
    [message] = info.value.message_dict["national_id"]
    assert message.startswith("a patient with this national ID is already registered")
    assert first.case_reference in message
    assert Patient.objects.count() == 1


def test_patient_register_duplicate_names_no_case_the_actor_may_not_see(
    coordinator, other_nurse, facility
):
    first = _register(coordinator, facility)
    with pytest.raises(ValidationError) as info:
        _register(other_nurse, other_nurse.facility)
    [message] = info.value.message_dict["national_id"]
    assert message == "a patient with this national ID is already registered"
    assert first.case_reference not in message


@pytest.mark.parametrize("closed", ["withdrawn", "deceased"])
def test_patient_register_accepts_the_number_of_a_closed_case(coordinator, facility, closed):
    first = _register(coordinator, facility)
    patient_set_status(patient=first, status=closed, actor=coordinator)
    second = _register(coordinator, facility)
    assert second.pk != first.pk


def test_patient_update_refuses_the_number_of_another_open_case(coordinator, facility):
    first = _register(coordinator, facility)
    other = factories.PatientFactory(facility=facility)
    with pytest.raises(ValidationError) as info:
        patient_update(patient=other, actor=coordinator, national_id=SENTINEL)
    assert first.case_reference in info.value.message_dict["national_id"][0]
    # The same number typed again in another digit form is no change, and no duplicate.
    patient_update(patient=first, actor=coordinator, national_id=ARABIC_SENTINEL)


def test_returnee_register_refuses_a_duplicate_of_an_open_returnee(coordinator):
    first = _returnee(coordinator)
    with pytest.raises(ValidationError) as info:
        _returnee(coordinator, national_id="٩٠١٢٣٤٥٦٧")
    [message] = info.value.message_dict["national_id"]
    assert message == f"a returnee with this national ID is already registered ({first.reference})"
    returnee_withdraw(returnee=first, actor=coordinator)
    assert _returnee(coordinator).pk != first.pk


def test_companion_add_accepts_a_national_id_already_used(coordinator, facility):
    # One mother may accompany two sick children.
    mother = {
        "name_latin": "Amal Saleh",
        "name_arabic": "أمل صالح",
        "national_id": "801234567",
        "date_of_birth": "1980-01-01",
        "sex": "female",
        "relationship": "mother",
        "is_guardian": True,
    }
    for _ in range(2):
        companion_add(
            patient=factories.PatientFactory(facility=facility), actor=coordinator, **mother
        )
    assert Companion.objects.filter(national_id_hash=crypto.keyed_hash("801234567")).count() == 2


def test_api_patient_create_names_national_id_when_invalid(api, coordinator, facility):
    body = {
        "name_latin": "Huda Barhoum",
        "name_arabic": "هدى برهوم",
        "date_of_birth": "1979-04-02",
        "sex": "female",
        "facility": facility.code,
        "priority": "critical",
        "clinical_category": "oncology",
    }
    for bad in ("40012345A", "1" * 21):
        response = api(coordinator).post(
            "/api/v1/patients/", {**body, "national_id": bad}, format="json"
        )
        assert response.status_code == 400
        assert list(response.json()) == ["national_id"]
    response = api(coordinator).post(
        "/api/v1/patients/", {**body, "national_id": ARABIC_SENTINEL}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["national_id"] == SENTINEL
    response = api(coordinator).post(
        "/api/v1/patients/", {**body, "national_id": SENTINEL}, format="json"
    )
    assert response.status_code == 400
    assert "already registered" in json.dumps(response.json()["national_id"])


def test_admin_patient_add_shows_a_duplicate_beside_the_field(client, coordinator, facility):
    first = _register(coordinator, facility)
    client.force_login(coordinator)
    url = reverse("admin:patients_patient_add")
    response = client.post(url, admin_patient_form(facility, national_id=ARABIC_SENTINEL))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["national_id"]
    assert first.case_reference in errors["national_id"][0]
    assert Patient.objects.count() == 1
    # Another number goes through, stored normalised.
    response = client.post(url, admin_patient_form(facility, national_id="٤٠٠ ١٢٣ ٤٥٧"))
    assert response.status_code == 302
    assert Patient.objects.exclude(pk=first.pk).get().national_id == "400123457"


def test_admin_returnee_add_refuses_a_duplicate(client, coordinator):
    first = _returnee(coordinator)
    client.force_login(coordinator)
    data = {
        "name_latin": "Sami Nasser",
        "name_arabic": "سامي ناصر",
        "national_id": "901234567",
        "date_of_birth": "1990-03-03",
        "sex": "male",
        "phone": "",
        "left_on": "2024-05-01",
    }
    response = client.post(reverse("admin:patients_returnee_add"), data)
    assert response.status_code == 200
    assert first.reference in response.context["adminform"].form.errors["national_id"][0]
    assert Returnee.objects.count() == 1
