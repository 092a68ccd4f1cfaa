"""Repeated wrong passwords lock a username out from one address: the admin answers with a
lockout page, the API token endpoint with 429; the right password does not get in meanwhile,
and another address still can."""

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.urls import reverse

PASSWORD = "a-long-demo-password-2026"
LOGIN = reverse("admin:login")
TOKEN = reverse("api-token")


@pytest.fixture
def account(coordinator, settings):
    settings.AXES_FAILURE_LIMIT = 3
    coordinator.set_password(PASSWORD)
    coordinator.save()
    return coordinator


def _admin_login(client, password, address="10.0.0.1"):
    return client.post(
        LOGIN,
        {"username": "coordinator", "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
    )


def test_lockout_admin_login_after_repeated_failures(client, account):
    for _ in range(2):
        assert _admin_login(client, "wrong").status_code == 200  # the form, with an error
    response = _admin_login(client, "wrong")
    assert response.status_code == 429
    assert b"Too many failed sign-ins" in response.content
    # Locked: even the right password is refused now.
    assert _admin_login(client, PASSWORD).status_code == 429
    assert "_auth_user_id" not in client.session
    attempt = AccessAttempt.objects.get(username="coordinator", ip_address="10.0.0.1")
    assert attempt.failures_since_start >= 3


def test_lockout_is_per_address(client, account):
    for _ in range(3):
        _admin_login(client, "wrong", address="10.0.0.1")
    response = _admin_login(client, PASSWORD, address="10.0.0.2")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(account.pk)


def test_lockout_success_before_the_limit_resets_the_count(client, account):
    for _ in range(2):
        _admin_login(client, "wrong")
    assert _admin_login(client, PASSWORD).status_code == 302
    client.logout()
    for _ in range(2):
        assert _admin_login(client, "wrong").status_code == 200
    assert _admin_login(client, PASSWORD).status_code == 302


def test_lockout_api_token_answers_429(api, account):
    client = api()
    for _ in range(2):
        response = client.post(TOKEN, {"username": "coordinator", "password": "wrong"})
        assert response.status_code == 400
    response = client.post(TOKEN, {"username": "coordinator", "password": "wrong"})
    assert response.status_code == 429
    assert "try again in 15 minutes" in response.json()["detail"]
    response = client.post(TOKEN, {"username": "coordinator", "password": PASSWORD})
    assert response.status_code == 429
    assert "token" not in response.json()


def test_lockout_failures_are_logged_without_the_password(client, account, caplog):
    with caplog.at_level("WARNING"):
        for _ in range(3):
            _admin_login(client, "wrong-secret-9931")
    # The log says what happened; who and from where stay in the lockout table, not in logs.
    assert "Locking out" in caplog.text
    assert "coordinator" not in caplog.text
    assert "wrong-secret-9931" not in caplog.text
    assert AccessFailureLog.objects.filter(username="coordinator").count() == 3
    assert not AccessAttempt.objects.filter(get_data__contains="wrong-secret-9931").exists()
    assert not AccessAttempt.objects.filter(post_data__contains="wrong-secret-9931").exists()
