"""Sessions end when idle, after an absolute lifetime, and when the account is deactivated; no
page or API answer with personal data is kept in a browser's cache."""

import datetime as dt
import time

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from casetracker.accounts.sessions import REFRESHED_AT, SIGNED_IN_AT

PASSWORD = "a-long-demo-password-2026"
FACTORY_PASSWORD = "correct-horse-battery-staple"  # tests/factories.py
INBOX = reverse("notifications:inbox")


@pytest.fixture
def signed_in(client, nurse):
    nurse.set_password(PASSWORD)
    nurse.save()
    assert client.login(username=nurse.username, password=PASSWORD)
    return client


def _expiry(client):
    from django.contrib.sessions.models import Session

    return Session.objects.get(session_key=client.session.session_key).expire_date


def test_session_idle_timeout_is_pushed_ahead_by_a_request(signed_in, settings):
    signed_in.get(INBOX)
    assert signed_in.session.get_expiry_age() == settings.SESSION_COOKIE_AGE == 30 * 60
    assert signed_in.cookies["sessionid"]["max-age"] == settings.SESSION_COOKIE_AGE


def test_session_expiry_is_saved_again_only_once_a_refresh_is_due(signed_in, settings):
    """Within SESSION_REFRESH_SECONDS of the last push a page does not write the session; past
    it, the next request pushes the expiry ahead (and sends the cookie again)."""
    signed_in.get(INBOX)
    first = _expiry(signed_in)
    response = signed_in.get(INBOX)
    assert response.status_code == 200
    assert "sessionid" not in response.cookies
    assert _expiry(signed_in) == first

    session = signed_in.session
    session[REFRESHED_AT] = int(time.time()) - settings.SESSION_REFRESH_SECONDS
    session.save()
    stale = _expiry(signed_in)
    response = signed_in.get(INBOX)
    assert response.cookies["sessionid"]["max-age"] == settings.SESSION_COOKIE_AGE
    assert _expiry(signed_in) > stale


def test_session_sign_in_time_is_recorded(signed_in):
    assert abs(signed_in.session[SIGNED_IN_AT] - time.time()) < 5


def test_session_ends_after_its_absolute_lifetime(signed_in, settings):
    assert signed_in.get(INBOX).status_code == 200
    session = signed_in.session
    session[SIGNED_IN_AT] = int(time.time()) - settings.SESSION_ABSOLUTE_SECONDS - 1
    session.save()

    response = signed_in.get(INBOX)

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))
    assert "_auth_user_id" not in signed_in.session


def test_session_within_its_lifetime_goes_on(signed_in, settings):
    session = signed_in.session
    session[SIGNED_IN_AT] = int(time.time()) - settings.SESSION_ABSOLUTE_SECONDS + 60
    session.save()
    assert signed_in.get(INBOX).status_code == 200


def test_deactivation_ends_the_session_and_deletes_tokens(signed_in, nurse):
    token = Token.objects.create(user=nurse)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get("/api/v1/notifications/").status_code == 200

    nurse.is_active = False
    nurse.save()

    assert not Token.objects.filter(user=nurse).exists()
    assert api.get("/api/v1/notifications/").status_code == 401
    response = signed_in.get(INBOX)
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_saving_an_active_user_keeps_the_tokens(nurse):
    Token.objects.create(user=nurse)
    nurse.email = "new@example.org"
    nurse.save()
    assert Token.objects.filter(user=nurse).exists()


@pytest.mark.parametrize("url", [INBOX, reverse("admin:index"), reverse("home")])
def test_no_store_on_pages_for_a_signed_in_user(signed_in, url):
    response = signed_in.get(url)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_no_store_on_api_answers(api, nurse):
    response = api(nurse).get("/api/v1/patients/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "no-store" in api().get("/api/v1/patients/")["Cache-Control"]  # even a 401


def test_no_store_not_needed_on_the_public_home_page(client):
    response = client.get(reverse("home"))
    assert "no-store" not in response.get("Cache-Control", "")


def test_password_change_deletes_tokens(nurse):
    Token.objects.create(user=nurse)
    nurse.set_password("another-long-pass-phrase")
    nurse.save()
    assert not Token.objects.filter(user=nurse).exists()


def _token_call(key: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/v1/notifications/unread-count/")


def test_token_expires_after_the_absolute_lifetime(nurse, settings):
    token = Token.objects.create(user=nurse)
    assert _token_call(token.key).status_code == 200
    Token.objects.filter(pk=token.pk).update(
        created=token.created - dt.timedelta(seconds=settings.SESSION_ABSOLUTE_SECONDS + 1)
    )
    response = _token_call(token.key)
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_token_endpoint_replaces_an_expired_token(nurse, settings):
    old = Token.objects.create(user=nurse)
    Token.objects.filter(pk=old.pk).update(
        created=old.created - dt.timedelta(seconds=settings.SESSION_ABSOLUTE_SECONDS + 1)
    )
    response = APIClient().post(
        "/api/v1/auth/token/",
        {"username": nurse.username, "password": FACTORY_PASSWORD},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["token"] != old.key
    assert _token_call(response.json()["token"]).status_code == 200


def test_token_endpoint_gives_back_a_live_token(nurse):
    live = Token.objects.create(user=nurse)
    response = APIClient().post(
        "/api/v1/auth/token/",
        {"username": nurse.username, "password": FACTORY_PASSWORD},
        format="json",
    )
    assert response.json() == {"token": live.key}
