"""Hostile input, signed in or not: an oversized body answers 413, JSON nested too deep 400, a
NUL character in a URL 404 and in a parameter or a field 400 naming it. None answers 500 and
none leaves anything written. Run on PostgreSQL too (CI), which refuses NUL in text outright."""

import json

import pytest
from django.test import Client

from patients.models import Companion, Patient
from tests.api_helpers import patient_body

TOKEN_URL = "/api/v1/auth/token/"


@pytest.fixture
def browser():
    return Client(raise_request_exception=False)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_a_body_over_the_limit_answers_413_without_signing_in(browser, db, settings):
    body = json.dumps(
        {"username": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1), "password": ""}
    )
    response = browser.post(TOKEN_URL, body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is larger than 2621440 bytes."}


def test_a_form_over_the_limit_answers_413_on_a_page(browser, db, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = browser.post("/admin/login/", {"username": "x" * 2000, "password": "y"})
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/plain")


def test_an_upload_has_its_own_larger_limit(browser, db, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    settings.UPLOAD_MAX_BYTES = 100_000
    small = browser.post("/admin/login/", {"username": "u", "password": "p", "f": _file(5_000)})
    assert small.status_code == 200  # the sign-in page again, wrong password
    large = browser.post("/admin/login/", {"username": "u", "password": "p", "f": _file(200_000)})
    assert large.status_code == 413


def _file(size: int):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("list.csv", b"a" * size, content_type="text/csv")


@pytest.mark.parametrize("depth", [33, 1_000, 100_000])
def test_json_nested_too_deep_answers_400_without_signing_in(browser, db, depth):
    response = browser.post(TOKEN_URL, _nested(depth), content_type="application/json")
    assert response.status_code == 400
    assert "nested more than 32 levels" in response.json()["detail"]


def test_json_within_the_depth_limit_reaches_the_serializer(browser, db):
    response = browser.post(TOKEN_URL, _nested(32), content_type="application/json")
    assert response.status_code == 400
    assert "nested" not in json.dumps(response.json())


def test_json_nested_too_deep_writes_nothing(api, coordinator, facility):
    before = Patient.objects.count()
    body = json.dumps({**patient_body(), "extra": json.loads(_nested(40))})
    response = api(coordinator).post("/api/v1/patients/", body, content_type="application/json")
    assert response.status_code == 400
    assert Patient.objects.count() == before


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/batches/RAF%00/",
        "/api/v1/patients/EV-2026%0000001/",
        "/batches/RAF%00/",
        "/patients/%00/",
        "/%00",
    ],
)
def test_a_nul_in_the_url_is_not_found(browser, coordinator, url):
    browser.force_login(coordinator)
    response = browser.get(url)
    assert response.status_code == 404
    if url.startswith("/api/"):
        assert response.json() == {"detail": "Not found."}


def test_a_nul_in_the_url_is_not_found_without_signing_in(browser, db):
    assert browser.get("/api/v1/batches/RAF%00/").status_code == 404


@pytest.mark.parametrize(
    ("query", "named"), [("facility=al%00amal", "facility"), ("fac%00ility=x", "fac\\0ility")]
)
def test_a_nul_in_a_query_parameter_answers_400_naming_it(api, coordinator, query, named):
    # Named in the text, not as a key: it may be no parameter of the operation at all.
    response = api(coordinator).get(f"/api/v1/patients/?{query}")
    assert response.status_code == 400
    assert response.json() == {"detail": f"Null characters are not allowed (in {named})."}


def test_a_nul_in_a_form_field_answers_400_naming_it(browser, db):
    response = browser.post("/admin/login/", {"username": "admin\x00", "password": "x"})
    assert response.status_code == 400
    assert response.content.decode() == "Null characters are not allowed (in username)."


@pytest.mark.parametrize("field", ["facility", "name_latin", "national_id", "clinical_category"])
def test_a_nul_in_a_json_field_answers_400_naming_it(api, coordinator, facility, field):
    before = Patient.objects.count()
    body = patient_body(**{field: "al-\x00amal"})
    response = api(coordinator).post("/api/v1/patients/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert Patient.objects.count() == before


def test_a_nul_in_a_reference_answers_400_naming_it(api, coordinator, ready_patient):
    patient = ready_patient()
    before = Companion.objects.count()
    body = {
        "patient": patient.case_reference + "\x00",
        "name_latin": "Sami Haddad",
        "name_arabic": "سامي حداد",
        "relationship": "brother",
        "sex": "male",
        "date_of_birth": "1990-01-01",
    }
    response = api(coordinator).post("/api/v1/companions/", body, format="json")
    assert response.status_code == 400
    assert response.json()["patient"] == ["Null characters are not allowed."]
    assert Companion.objects.count() == before


@pytest.mark.parametrize("url", ["/admin/login/", TOKEN_URL])
def test_a_malformed_form_body_answers_400(browser, db, url):
    response = browser.post(
        url, b"--x\r\nbroken", content_type="multipart/form-data; boundary=\x00"
    )
    assert response.status_code == 400
    if url == TOKEN_URL:
        assert "detail" in response.json()
    else:
        assert response.content.decode() == "The form in the request body is malformed."
