"""The keys of the national-ID encryption: checked at start-up, and rotated by a command."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from casetracker import crypto
from patients.models import Companion, Patient, Returnee
from patients.selectors import patient_search
from tests import factories
from tests.patients.test_national_id import (
    ARABIC_SENTINEL,
    KEY_A,
    KEY_B,
    SENTINEL,
    _raw_token,
    _register,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("keys", "hash_key", "previous", "production", "names"),
    [
        (["not-a-key"], None, "", False, "FIELD_ENCRYPTION_KEYS: key number 1"),
        ([KEY_B, "short"], None, "", False, "FIELD_ENCRYPTION_KEYS: key number 2"),
        ([], None, "", False, "FIELD_ENCRYPTION_KEYS is empty"),
        ([KEY_B], "abc", "", False, "FIELD_HASH_KEY"),
        ([KEY_B], None, "@@@", False, "FIELD_HASH_KEY_PREVIOUS"),
        ([KEY_B], KEY_B, "", False, "FIELD_HASH_KEY must differ"),
        ([KEY_A], None, "", True, "set FIELD_ENCRYPTION_KEYS"),
        ([KEY_B], crypto.INSECURE_DEFAULT_HASH_KEY, "", True, "set FIELD_HASH_KEY"),
    ],
)
def test_crypto_check_keys_names_the_variable(keys, hash_key, previous, production, names):
    with pytest.raises(ImproperlyConfigured, match=names):
        crypto.check_keys(
            encryption_keys=keys,
            hash_key=hash_key or Fernet.generate_key().decode(),
            hash_key_previous=previous,
            production=production,
        )


def test_crypto_check_keys_accepts_own_keys_in_production():
    crypto.check_keys(
        encryption_keys=[KEY_B, Fernet.generate_key().decode()],
        hash_key=Fernet.generate_key().decode(),
        hash_key_previous=Fernet.generate_key().decode(),
        production=True,
    )


def test_settings_refuse_a_malformed_key_at_start_up():
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "FIELD_ENCRYPTION_KEYS": "malformed"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured: FIELD_ENCRYPTION_KEYS: key number 1" in result.stderr


# --- Rotation -------------------------------------------------------------------------------


def _rotate(*args) -> str:
    out = io.StringIO()
    call_command("rotate_field_keys", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_rotate_field_keys_reencrypts_under_the_first_key(settings, coordinator, facility):
    patient = _register(coordinator, facility)
    factories.CompanionFactory(patient=patient)
    factories.ReturneeFactory()
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    assert "patients: 1 rows, 1 to re-encrypt" in _rotate("--check")
    assert not crypto.is_current(_raw_token(patient))  # --check wrote nothing
    output = _rotate("--batch-size", "1")
    assert "patients: 1 rows, 1 re-encrypted, 0 hashes recomputed, 0 unreadable" in output
    assert "companions: 1 rows, 1 re-encrypted" in output
    assert "returnees: 1 rows, 1 re-encrypted" in output
    assert Fernet(KEY_B).decrypt(_raw_token(patient).encode()).decode() == SENTINEL
    # Idempotent: a second run finds nothing to do.
    assert "patients: 1 rows, 0 re-encrypted, 0 hashes recomputed" in _rotate()
    # The old key can go: everything still reads.
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    assert Patient.objects.get(pk=patient.pk).national_id == SENTINEL
    assert Companion.objects.count() == 1 and Returnee.objects.count() == 1
    assert [c.national_id for c in Companion.objects.all()]


def test_rotate_field_keys_recomputes_hashes_under_a_new_hash_key(settings, coordinator, facility):
    patient = _register(coordinator, facility)
    old_hash_key, new_hash_key = settings.FIELD_HASH_KEY, Fernet.generate_key().decode()
    settings.FIELD_HASH_KEY, settings.FIELD_HASH_KEY_PREVIOUS = new_hash_key, old_hash_key
    # Before the command runs, searches still find the row through the previous key.
    assert list(patient_search(coordinator, national_id=SENTINEL)) == [patient]
    assert "patients: 1 rows, 0 re-encrypted, 1 hashes recomputed" in _rotate()
    settings.FIELD_HASH_KEY_PREVIOUS = ""
    assert list(patient_search(coordinator, national_id=ARABIC_SENTINEL)) == [patient]
    assert Patient.objects.get(pk=patient.pk).national_id_hash == crypto.keyed_hash(SENTINEL)


def test_rotate_field_keys_names_rows_no_key_decrypts(settings, coordinator, facility):
    patient = _register(coordinator, facility)
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    err = io.StringIO()
    with pytest.raises(CommandError, match="FIELD_ENCRYPTION_KEYS"):
        call_command("rotate_field_keys", stdout=io.StringIO(), stderr=err)
    assert patient.case_reference in err.getvalue()
    assert SENTINEL not in err.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    assert Patient.objects.get(pk=patient.pk).national_id == SENTINEL  # nothing was damaged
