"""Password hashing, response headers and the production settings."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.urls import reverse

from casetracker import settings as project_settings
from casetracker.accounts.roles import Role
from casetracker.accounts.services import user_create

ROOT = Path(__file__).resolve().parents[2]


def test_passwords_are_hashed_with_argon2(db, settings):
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS  # undo the fast test hasher
    user = user_create(
        username="new.coordinator", password="a-long-pass-phrase-2026", role=Role.COORDINATOR
    )
    assert user.password.startswith("argon2$")
    assert user.check_password("a-long-pass-phrase-2026")


def test_security_headers_on_every_page(client):
    response = client.get(reverse("home"))
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    environment.update(env)
    return subprocess.run(  # noqa: S603 (our own manage.py with fixed arguments)
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_the_embedded_secret_key():
    result = _manage("check", DJANGO_PRODUCTION="true")
    assert result.returncode != 0
    assert "set DJANGO_SECRET_KEY" in result.stderr


@pytest.mark.parametrize("extra", [{}, {"BEHIND_TLS_PROXY": "true"}])
def test_production_settings_pass_the_deployment_checks(extra):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_PRODUCTION="true",
        DJANGO_SECRET_KEY="k" * 20 + "a-random-looking-key-for-the-check-" + "9" * 20,
        DJANGO_ALLOWED_HOSTS="casetracker.example.org",
        # Production refuses the embedded national-ID keys too (README, Encryption keys).
        FIELD_ENCRYPTION_KEYS="zG0A0s8fq3H8h4m5bW5mX1wqk0tq0n2cJk3bXkT3c8Y=",
        FIELD_HASH_KEY="p0Fv3N8Zq4rS6tU8wX0yZ2aB4cD6eF8gH0iJ2kL4mN8=",
        # And the key of the audit log's texts (README, Audit log).
        AUDIT_TEXT_KEY="Vb3d1Xk9Qw2Ea7Rt5Yu8Io0Pa4Sd6Fg8Hj1Kl3Zx5Cv=",
        **extra,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("password", "problem"),
    [("Short-2026!", "too short"), ("Zq9!" * 33, "at most 128 characters, not 132")],
)
def test_password_validators_refuse_under_12_and_over_128_characters(password, problem):
    with pytest.raises(ValidationError, match=problem):
        validate_password(password)


def test_password_validators_accept_a_long_pass_phrase():
    validate_password("Zq9!" * 32)  # 128 characters
