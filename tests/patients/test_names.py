"""Names are stored in one Unicode form, and refuse invisible characters that change how they
read: through the API (400 naming the field) and the services alike."""

import re
import unicodedata

import pytest
from django.core.exceptions import ValidationError

from patients.models import Companion, Patient, Returnee
from patients.names import normalise_name, validate_person_name
from tests import factories
from tests.api_helpers import patient_body
from tests.patients.test_api import (
    COMPANIONS,
    PATIENTS,
    RETURNEES,
    _companion_body,
    _returnee_body,
)

ARABIC = "محمد عبد الرحمن"
# "Ahmad" with a right-to-left override in front: it would display reversed.
OVERRIDE = "\u202eAhmad Saleh"


@pytest.mark.parametrize(
    "name",
    [ARABIC, "Amal Haddad", "نرگس‌ احمدی", "O'Neil-Saad"],  # with a zero-width non-joiner
)
def test_validate_person_name_accepts_real_names(name):
    validate_person_name(name)


@pytest.mark.parametrize(
    ("name", "code_point"),
    [
        (OVERRIDE, "U+202E"),
        ("Amal\u2066 Haddad", "U+2066"),  # isolate
        ("Amal\u200f Haddad", "U+200F"),  # right-to-left mark
        ("Amal\u061c Haddad", "U+061C"),  # Arabic letter mark
        ("Amal\x00Haddad", "U+0000"),
        ("Amal\x1bHaddad", "U+001B"),
        ("\ufeffAmal Haddad", "U+FEFF"),
    ],
)
def test_validate_person_name_refuses_invisible_characters(name, code_point):
    with pytest.raises(ValidationError, match=re.escape(code_point)):
        validate_person_name(name)


def test_normalise_name_composes_and_collapses_spaces():
    decomposed = unicodedata.normalize("NFD", "José  Haddád ")
    assert decomposed != "José Haddád"
    assert normalise_name(decomposed) == "José Haddád"


def test_names_api_arabic_round_trips_unchanged(api, coordinator, facility):
    response = api(coordinator).post(PATIENTS, patient_body(name_arabic=ARABIC), format="json")
    assert response.status_code == 201, response.json()
    reference = response.json()["case_reference"]
    assert Patient.objects.get(case_reference=reference).name_arabic == ARABIC
    assert api(coordinator).get(f"{PATIENTS}{reference}/").json()["name_arabic"] == ARABIC


def test_names_api_stores_the_composed_form(api, coordinator, facility):
    decomposed = unicodedata.normalize("NFD", "Renée Haddad")
    response = api(coordinator).post(PATIENTS, patient_body(name_latin=decomposed), format="json")
    assert response.status_code == 201, response.json()
    saved = Patient.objects.get(case_reference=response.json()["case_reference"])
    assert saved.name_latin == "Renée Haddad" == unicodedata.normalize("NFC", decomposed)


@pytest.mark.parametrize("field", ["name_latin", "name_arabic"])
def test_names_api_refuses_an_override_naming_the_field(api, coordinator, facility, field):
    response = api(coordinator).post(PATIENTS, patient_body(**{field: OVERRIDE}), format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert "U+202E" in str(response.json()[field])
    assert not Patient.objects.exists()


def test_names_api_refuses_an_override_for_companions_and_returnees(api, coordinator, facility):
    patient = factories.PatientFactory(facility=facility)
    body = _companion_body(patient, name_latin=OVERRIDE)
    response = api(coordinator).post(COMPANIONS, body, format="json")
    assert response.status_code == 400
    assert "name_latin" in response.json()
    assert not Companion.objects.exists()
    response = api(coordinator).post(RETURNEES, _returnee_body(name_arabic=OVERRIDE), format="json")
    assert response.status_code == 400
    assert "name_arabic" in response.json()
    assert not Returnee.objects.exists()


def test_names_update_with_an_override_changes_nothing(api, coordinator, facility):
    patient = factories.PatientFactory(facility=facility, name_latin="Amal Haddad")
    response = api(coordinator).patch(
        f"{PATIENTS}{patient.case_reference}/", {"name_latin": OVERRIDE}, format="json"
    )
    assert response.status_code == 400
    patient.refresh_from_db()
    assert patient.name_latin == "Amal Haddad"
