import io

import pytest
from django.core.management import CommandError, call_command

from casetracker.accounts.models import User
from casetracker.accounts.roles import Role, user_role

pytestmark = pytest.mark.django_db


def test_adduser_creates_a_coordinator_from_stdin(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-unusual-passphrase-41\n"))
    out = io.StringIO()
    call_command("adduser", "amira", "--role", "coordinator", "--password-stdin", stdout=out)
    user = User.objects.get(username="amira")
    assert "Created amira (coordinator)" in out.getvalue()
    assert user.check_password("a-long-unusual-passphrase-41")
    assert user.is_staff and not user.is_superuser
    assert user_role(user) is Role.COORDINATOR


def test_adduser_hospital_staff_needs_an_existing_facility(monkeypatch, facility):
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-unusual-passphrase-41\n"))
    with pytest.raises(CommandError, match="facility: no facility with code 'nowhere'"):
        call_command(
            "adduser",
            "sami",
            "--role",
            "hospital_staff",
            "--facility",
            "nowhere",
            "--password-stdin",
        )
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-unusual-passphrase-41\n"))
    with pytest.raises(CommandError, match="facility: hospital staff need a facility"):
        call_command("adduser", "sami", "--role", "hospital_staff", "--password-stdin")
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-unusual-passphrase-41\n"))
    call_command(
        "adduser",
        "sami",
        "--role",
        "hospital_staff",
        "--facility",
        facility.code,
        "--password-stdin",
        stdout=io.StringIO(),
    )
    user = User.objects.get(username="sami")
    assert user.facility == facility
    assert user_role(user) is Role.HOSPITAL_STAFF


def test_adduser_refuses_weak_passwords_and_duplicates(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("password\n"))
    with pytest.raises(CommandError, match="password"):
        call_command("adduser", "weak", "--role", "auditor", "--password-stdin")
    assert not User.objects.filter(username="weak").exists()
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-unusual-passphrase-41\n"))
    call_command("adduser", "dup", "--role", "auditor", "--password-stdin", stdout=io.StringIO())
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-unusual-passphrase-41\n"))
    with pytest.raises(CommandError, match="username: a user named 'DUP' already exists"):
        call_command("adduser", "DUP", "--role", "auditor", "--password-stdin")


def test_adduser_prompts_twice_and_refuses_a_mismatch(monkeypatch):
    answers = iter(["a-long-unusual-passphrase-41", "something-else-entirely-9"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError, match="the two passwords differ"):
        call_command("adduser", "typo", "--role", "auditor")
    assert not User.objects.filter(username="typo").exists()
