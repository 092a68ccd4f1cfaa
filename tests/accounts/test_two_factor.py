"""Two-factor sign-in: while required, a session signed in with a password alone reaches only the
two-factor pages (the admin, the other pages and the session API refuse it); a real TOTP code or
a backup code (single use, stored hashed) opens everything; the token endpoint wants the code
too and counts a wrong one for the lockout; production cannot turn it off; off, it says so."""

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.contrib import admin
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from casetracker.accounts.twofactor.models import BackupCode, BackupCodeDevice
from casetracker.accounts.twofactor.services import backup_codes_regenerate
from casetracker.audit.models import Action, Event, SubjectType
from tests.service_helpers import inbox_row, notify_event

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery-staple"  # what UserFactory sets
VERIFY = reverse("account:verify")
SETUP = reverse("account:setup")
BACKUP_CODES = reverse("account:backup-codes")
TOKEN = reverse("api-token")
ADMIN_INDEX = reverse("admin:index")
USERS = reverse("admin:accounts_user_changelist")
FACILITIES_ADMIN = reverse("admin:accounts_facility_changelist")
FACILITIES_API = "/api/v1/facilities/"
BANNER = "Two-factor sign-in is off: demonstration only"


@pytest.fixture
def required():
    with override_settings(TWO_FACTOR_REQUIRED=True):
        yield


def _authenticator(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def _code(device: TOTPDevice, steps_ahead: int = 0) -> str:
    # A code is accepted once: `steps_ahead=1` gives the next window's, still within tolerance.
    device.refresh_from_db()
    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits,
                 drift=device.drift + steps_ahead)  # fmt: skip
    return f"{value:0{device.digits}d}"


def _verify(client, device, next_url=ADMIN_INDEX):
    return client.post(VERIFY, {"otp_token": _code(device), "next": next_url})


def _to(page: str, next_url: str) -> str:
    return f"{page}?next={next_url.replace('/', '%2F')}"


@pytest.fixture
def unverified(client, admin_user, required):
    """A client signed in as an admin with an authenticator, password only."""
    device = _authenticator(admin_user)
    client.force_login(admin_user)
    return client, device


# --- Enforcement -----------------------------------------------------------------------------


def test_two_factor_pages_before_the_second_factor_show_nothing_of_the_account(unverified):
    client, device = unverified
    inbox_row(device.user, notify_event([device.user]))
    assert 'class="badge"' not in client.get(VERIFY).content.decode()
    _verify(client, device)
    assert 'class="badge"' in client.get("/").content.decode()


@pytest.mark.parametrize("url", [ADMIN_INDEX, USERS, FACILITIES_ADMIN, "/", "/inbox/"])
def test_two_factor_unverified_pages_redirect_to_verify(unverified, url):
    client, _device = unverified
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == _to(VERIFY, url)


def test_two_factor_password_sign_in_goes_on_to_verify(client, admin_user, required):
    device = _authenticator(admin_user)
    login = reverse("admin:login")
    signed_in = client.post(
        login, {"username": admin_user.username, "password": PASSWORD, "next": USERS}
    )
    assert signed_in["Location"] == USERS
    assert client.get(USERS)["Location"] == _to(VERIFY, USERS)
    assert client.get(login)["Location"] == _to(VERIFY, login)
    assert _verify(client, device, next_url=USERS)["Location"] == USERS
    assert client.get(USERS).status_code == 200


def test_two_factor_without_authenticator_redirects_to_setup(client, nurse, required):
    client.force_login(nurse)
    response = client.get("/inbox/")
    assert response.status_code == 302
    assert response["Location"] == _to(SETUP, "/inbox/")


def test_two_factor_unverified_session_api_answers_403(unverified):
    client, _device = unverified
    response = client.get(FACILITIES_API)
    assert response.status_code == 403
    assert response.json() == {"detail": "Two-factor verification required."}


def test_two_factor_unverified_may_switch_language_and_sign_out(unverified):
    client, _device = unverified
    assert client.get(VERIFY).status_code == 200
    switched = client.post(reverse("set_language"), {"language": "ar", "next": VERIFY})
    assert switched.status_code == 302
    assert client.get(VERIFY).headers["Content-Language"] == "ar"
    # The admin's sign-out only serves sessions it accepts: the two-factor pages have their own.
    assert client.post(reverse("account:sign-out"))["Location"] == reverse("admin:login")
    assert "_auth_user_id" not in client.session


def test_two_factor_admin_site_refuses_unverified_without_the_middleware(
    unverified, admin_user, settings
):
    # Defence in depth: with the middleware gone, the admin site still checks the device.
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "twofactor" not in m]
    client, _device = unverified
    response = client.get(USERS)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    request = RequestFactory().get(ADMIN_INDEX)
    request.user = admin_user
    assert not admin.site.has_permission(request)  # no OTP middleware: nobody is verified
    with override_settings(TWO_FACTOR_REQUIRED=False):
        assert admin.site.has_permission(request)


def test_two_factor_verify_with_a_real_code_opens_everything(unverified):
    client, device = unverified
    session_key = client.session.session_key
    response = _verify(client, device, next_url=USERS)
    assert response.status_code == 302
    assert response["Location"] == USERS
    assert client.session.session_key != session_key  # a new key for the new privilege
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    for url in (ADMIN_INDEX, USERS, FACILITIES_ADMIN, "/", "/inbox/", FACILITIES_API):
        assert client.get(url).status_code == 200, url


def test_two_factor_verify_refuses_a_wrong_code_and_throttles(unverified):
    client, device = unverified
    response = client.post(VERIFY, {"otp_token": "000000", "next": ADMIN_INDEX})
    assert response.status_code == 200
    assert "wrong or has expired" in response.content.decode()
    assert DEVICE_ID_SESSION_KEY not in client.session
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    # Throttled now: even the right code waits for the delay to pass.
    assert _verify(client, device).status_code == 200
    assert client.get(ADMIN_INDEX).status_code == 302


def test_two_factor_verify_ignores_an_outside_next(unverified):
    client, device = unverified
    response = _verify(client, device, next_url="https://elsewhere.example/steal")
    assert response["Location"] == reverse("home")


def test_two_factor_removed_device_ends_verification(unverified):
    client, device = unverified
    _verify(client, device)
    device.delete()
    assert client.get(ADMIN_INDEX)["Location"] == _to(SETUP, ADMIN_INDEX)


# --- Set-up ----------------------------------------------------------------------------------


def test_two_factor_setup_enrols_with_a_confirmed_code(client, nurse, required):
    client.force_login(nurse)
    page = client.get(SETUP, {"next": "/inbox/"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and 'inputmode="numeric"' in html and 'dir="ltr"' in html
    assert 'autocomplete="one-time-code"' in html
    device = TOTPDevice.objects.get(user=nurse, confirmed=False)
    assert client.get(SETUP).context["secret"] == page.context["secret"]  # same pending device

    wrong = client.post(SETUP, {"otp_token": "000000", "next": "/inbox/"})
    assert wrong.status_code == 200 and wrong.context["form"].errors["otp_token"]
    device.throttling_failure_count = 0  # the wrong try above throttles; skip the delay
    device.save()
    done = client.post(SETUP, {"otp_token": _code(device), "next": "/inbox/"})
    assert done.status_code == 200
    assert len(done.context["codes"]) == 10
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/inbox/").status_code == 200
    event = Event.objects.get(action=Action.TWO_FACTOR)
    assert (event.subject_type, event.subject_ref, event.to_state) == (
        SubjectType.ACCOUNT,
        "nurse",
        "enrolled",
    )
    assert event.actor == nurse


def test_two_factor_setup_cannot_replace_a_device_with_a_password_alone(unverified):
    client, _device = unverified
    response = client.get(SETUP)
    assert response["Location"] == _to(VERIFY, "/")
    assert TOTPDevice.objects.count() == 1


def test_two_factor_pages_need_a_sign_in(client, required):
    for url in (SETUP, VERIFY, BACKUP_CODES):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


# --- Backup codes ----------------------------------------------------------------------------


def test_two_factor_backup_codes_are_stored_hashed(admin_user):
    _authenticator(admin_user)
    codes = backup_codes_regenerate(user=admin_user)
    assert len(codes) == len(set(codes)) == 10
    stored = list(BackupCode.objects.values_list("salt", "digest"))
    assert len(stored) == 10 and len({salt for salt, _ in stored}) == 10
    dump = repr(list(BackupCode.objects.values())) + repr(list(BackupCodeDevice.objects.values()))
    for code in codes:
        assert code not in dump and code.replace("-", "") not in dump


def test_two_factor_backup_code_works_once(client, admin_user, required):
    _authenticator(admin_user)
    code = backup_codes_regenerate(user=admin_user)[0]
    client.force_login(admin_user)
    typed = code.lower().replace("-", " ")  # read off paper: case and grouping do not matter
    response = client.post(VERIFY, {"otp_token": typed, "next": USERS})
    assert response["Location"] == USERS
    assert client.get(USERS).status_code == 200
    assert BackupCode.objects.count() == 9

    client.post(reverse("account:sign-out"))
    client.force_login(admin_user)
    BackupCodeDevice.objects.update(throttling_failure_count=0)
    again = client.post(VERIFY, {"otp_token": code, "next": USERS})
    assert again.status_code == 200
    assert client.get(USERS).status_code == 302


def test_two_factor_backup_codes_page_counts_and_renews(unverified):
    client, device = unverified
    old = backup_codes_regenerate(user=device.user)
    _verify(client, device)
    page = client.get(BACKUP_CODES)
    assert "You have 10 backup codes left." in page.content.decode()
    assert page.context["codes"] is None
    renewed = client.post(BACKUP_CODES)
    new = renewed.context["codes"]
    assert len(new) == 10 and not set(new) & set(old)
    assert BackupCodeDevice.objects.get().verify_token(old[0]) is False
    assert Event.objects.filter(action=Action.TWO_FACTOR, to_state="new_backup_codes").count() == 2


def test_two_factor_backup_codes_page_needs_verification(unverified):
    client, _device = unverified
    assert client.get(BACKUP_CODES)["Location"] == _to(VERIFY, BACKUP_CODES)
    with override_settings(TWO_FACTOR_REQUIRED=False):
        # Off, the page is reachable but still will not renew codes on a password alone.
        assert client.get(BACKUP_CODES)["Location"] == _to(VERIFY, BACKUP_CODES)


# --- API token -------------------------------------------------------------------------------


def _token(api, **extra):
    return api().post(TOKEN, {"username": "coordinator", "password": PASSWORD, **extra})


def test_two_factor_token_needs_the_code(api, coordinator, required):
    device = _authenticator(coordinator)
    missing = _token(api)
    assert missing.status_code == 400
    assert "otp_token" in missing.json()
    wrong = _token(api, otp_token="000000")
    assert wrong.status_code == 400
    assert "otp_token" in wrong.json()
    assert not Token.objects.exists()
    TOTPDevice.objects.update(throttling_failure_count=0)
    right = _token(api, otp_token=_code(device))
    assert right.status_code == 200
    assert right.json()["token"] == Token.objects.get(user=coordinator).key


def test_two_factor_token_without_authenticator_names_the_field(api, coordinator, required):
    response = _token(api, otp_token="123456")
    assert response.status_code == 400
    assert "not set up" in response.json()["otp_token"][0]


def test_two_factor_token_accepts_a_backup_code(api, coordinator, required):
    _authenticator(coordinator)
    code = backup_codes_regenerate(user=coordinator)[0]
    assert _token(api, otp_token=code).status_code == 200
    assert _token(api, otp_token=code).status_code == 400


def test_two_factor_wrong_code_counts_for_the_lockout(api, coordinator, required, settings):
    settings.AXES_FAILURE_LIMIT = 3
    device = _authenticator(coordinator)
    for _ in range(2):
        assert _token(api, otp_token="000000").status_code == 400
    locked = _token(api, otp_token="000000")
    assert locked.status_code == 429
    TOTPDevice.objects.update(throttling_failure_count=0)
    assert _token(api, otp_token=_code(device)).status_code == 429
    attempt = AccessAttempt.objects.get(username="coordinator")
    assert attempt.failures_since_start >= 3
    assert "000000" not in attempt.post_data


def test_two_factor_token_without_code_when_off(api, coordinator):
    assert _token(api).status_code == 200


# --- Admin reset -----------------------------------------------------------------------------


def test_two_factor_admin_reset_removes_devices_and_is_audited(unverified, nurse):
    client, device = unverified
    _verify(client, device)
    _authenticator(nurse)
    backup_codes_regenerate(user=nurse)
    Token.objects.create(user=nurse)
    kept = Token.objects.create(user=device.user)
    nurse_browser = Client()
    nurse_browser.force_login(nurse)
    response = client.post(
        USERS, {"action": "reset_two_factor", "_selected_action": [nurse.pk]}, follow=True
    )
    assert response.status_code == 200
    assert not TOTPDevice.objects.filter(user=nurse).exists()
    assert not BackupCodeDevice.objects.filter(user=nurse).exists()
    assert TOTPDevice.objects.filter(user=device.user).exists()
    # A token issued with a code from the lost phone may be on it too.
    assert list(Token.objects.values_list("key", flat=True)) == [kept.key]
    # So may a browser session: it is signed out, not left to enrol a new phone.
    assert nurse_browser.get("/inbox/")["Location"].startswith(reverse("admin:login"))
    event = Event.objects.get(action=Action.TWO_FACTOR, to_state="not_enrolled")
    assert event.subject_ref == "nurse" and event.actor == device.user
    assert event.details == {"user_id": nurse.pk, "devices": 2}


def test_two_factor_totp_secrets_stay_out_of_the_admin():
    assert not admin.site.is_registered(TOTPDevice)


# --- Settings and the "off" banner -----------------------------------------------------------


def _django(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DJANGO_") and k != "TWO_FACTOR_REQUIRED"
    }
    environment.update(env)
    return subprocess.run(  # noqa: S603 (our own manage.py with fixed arguments)
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


# What production needs besides (keys of its own), so that only TWO_FACTOR_REQUIRED is tested.
PRODUCTION = {
    "DJANGO_PRODUCTION": "true",
    "DJANGO_SECRET_KEY": _key() + _key(),
    "FIELD_ENCRYPTION_KEYS": _key(),
    "FIELD_HASH_KEY": _key(),
    "AUDIT_TEXT_KEY": _key(),
}
PRINT_SETTING = (
    "shell",
    "-c",
    "from django.conf import settings; print(settings.TWO_FACTOR_REQUIRED)",
)


def test_two_factor_production_refuses_to_start_when_off():
    result = _django("check", TWO_FACTOR_REQUIRED="false", **PRODUCTION)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "TWO_FACTOR_REQUIRED=false is refused under DJANGO_PRODUCTION" in result.stderr


def test_two_factor_production_requires_it_by_default():
    result = _django(*PRINT_SETTING, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "True"
    assert "TWO_FACTOR_REQUIRED is off" not in result.stderr


def test_two_factor_off_warns_once_at_startup():
    result = _django(*PRINT_SETTING)
    assert result.stdout.split()[-1] == "False"
    warnings = [line for line in result.stderr.splitlines() if "TWO_FACTOR_REQUIRED is off" in line]
    assert len(warnings) == 1 and "WARNING" in warnings[0]


def test_two_factor_off_banner_on_pages_and_admin(client, admin_user):
    assert BANNER in client.get("/").content.decode()
    assert BANNER in client.get(reverse("admin:login")).content.decode()
    client.force_login(admin_user)
    assert BANNER in client.get(ADMIN_INDEX).content.decode()
    with override_settings(TWO_FACTOR_REQUIRED=True):
        client.logout()
        assert BANNER not in client.get("/").content.decode()
        assert BANNER not in client.get(reverse("admin:login")).content.decode()
