"""API: the token exchange and the facilities list."""

from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from casetracker.accounts.models import Facility
from tests import factories
from tests.api_helpers import count_queries

TOKEN_URL = "/api/v1/auth/token/"
FACILITIES = "/api/v1/facilities/"
PASSWORD = "correct-horse-battery-staple"  # what UserFactory sets


# --- POST auth/token/ -----------------------------------------------------------------------


def test_token_issued_for_valid_credentials_and_authenticates(coordinator, facility):
    client = APIClient()
    response = client.post(TOKEN_URL, {"username": "coordinator", "password": PASSWORD})
    assert response.status_code == 200
    key = response.json()["token"]
    assert key == Token.objects.get(user=coordinator).key

    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    listed = client.get(FACILITIES)
    assert listed.status_code == 200
    assert [f["code"] for f in listed.json()["results"]] == ["al-amal"]


def test_token_same_key_on_second_exchange(coordinator):
    client = APIClient()
    first = client.post(TOKEN_URL, {"username": "coordinator", "password": PASSWORD}).json()
    second = client.post(TOKEN_URL, {"username": "coordinator", "password": PASSWORD}).json()
    assert first["token"] == second["token"]
    assert Token.objects.count() == 1


def test_token_wrong_password_is_400_and_issues_nothing(coordinator):
    response = APIClient().post(TOKEN_URL, {"username": "coordinator", "password": "wrong"})
    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    assert "token" not in response.json()
    assert not Token.objects.exists()


def test_token_unknown_user_is_400(db):
    response = APIClient().post(TOKEN_URL, {"username": "nobody", "password": PASSWORD})
    assert response.status_code == 400
    assert not Token.objects.exists()


def test_token_missing_password_names_the_field(coordinator):
    response = APIClient().post(TOKEN_URL, {"username": "coordinator"})
    assert response.status_code == 400
    assert "password" in response.json()


def test_token_inactive_user_is_refused(coordinator):
    coordinator.is_active = False
    coordinator.save()
    response = APIClient().post(TOKEN_URL, {"username": "coordinator", "password": PASSWORD})
    assert response.status_code == 400
    assert not Token.objects.exists()


def test_token_unknown_key_is_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0000000000000000000000000000000000000000")
    assert client.get(FACILITIES).status_code == 401


def test_token_of_deactivated_user_no_longer_works(coordinator):
    token = Token.objects.create(user=coordinator)
    coordinator.is_active = False
    coordinator.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get(FACILITIES).status_code == 401


def test_token_of_user_without_role_is_403(db):
    factories.UserFactory(username="norole")
    token = APIClient().post(TOKEN_URL, {"username": "norole", "password": PASSWORD})
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    assert client.get(FACILITIES).status_code == 403


# --- facilities/ ----------------------------------------------------------------------------


def test_facilities_list_for_every_signed_in_role(
    api, coordinator, nurse, auditor, admin_user, facility, other_facility
):
    for user in (coordinator, nurse, auditor, admin_user):
        response = api(user).get(FACILITIES)
        assert response.status_code == 200, user
        body = response.json()
        assert body["count"] == 2
        assert [f["code"] for f in body["results"]] == ["al-amal", "nasser"]
        assert set(body["results"][0]) == {
            "code",
            "name_en",
            "name_ar",
            "kind",
            "governorate",
            "is_active",
        }


def test_facilities_anonymous_is_401(api, facility):
    assert api().get(FACILITIES).status_code == 401
    assert api().get(f"{FACILITIES}al-amal/").status_code == 401


def test_facilities_retrieve_by_code(api, nurse, facility):
    response = api(nurse).get(f"{FACILITIES}al-amal/")
    assert response.status_code == 200
    assert response.json()["kind"] == "staging"
    assert response.json()["name_en"] == facility.name_en


def test_facilities_unknown_code_is_404(api, coordinator):
    assert api(coordinator).get(f"{FACILITIES}nowhere/").status_code == 404


def test_facilities_filter_by_kind(api, coordinator, facility, other_facility):
    response = api(coordinator).get(FACILITIES, {"kind": "hospital"})
    assert [f["code"] for f in response.json()["results"]] == ["nasser"]


def test_facilities_invalid_filter_names_the_field(api, coordinator, facility):
    response = api(coordinator).get(FACILITIES, {"kind": "castle"})
    assert response.status_code == 400
    assert "kind" in response.json()


def test_facilities_are_read_only_but_for_admins(api, coordinator, auditor, facility):
    # Admins add and change facilities: tests/accounts/test_facilities.py.
    body = {"code": "new", "name_en": "N", "name_ar": "ن", "kind": "hospital"}
    assert api(coordinator).post(FACILITIES, body).status_code == 403
    assert api(auditor).post(FACILITIES, body).status_code == 403
    assert api(coordinator).delete(f"{FACILITIES}al-amal/").status_code == 405
    assert list(Facility.objects.values_list("code", flat=True)) == ["al-amal"]


def test_facilities_list_constant_number_of_queries(api, coordinator):
    factories.FacilityFactory.create_batch(2)
    small, body = count_queries(api, coordinator, FACILITIES)
    assert body["count"] == 2
    factories.FacilityFactory.create_batch(18)
    large, body = count_queries(api, coordinator, FACILITIES)
    assert len(body["results"]) == 20
    assert small == large
