"""The migration that encrypts national IDs already in the database, on SQLite and PostgreSQL."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from casetracker import crypto

pytestmark = pytest.mark.django_db(transaction=True)

PLAIN = [("patients", "0002_sms_consent_and_name_checks")]
ENCRYPTED = [("patients", "0003_national_id_encryption")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


def _columns(table: str) -> set[str]:
    with connection.cursor() as cursor:
        return {c.name for c in connection.introspection.get_table_description(cursor, table)}


def _raw(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def test_migration_encrypts_existing_national_ids_and_drops_the_plain_column():
    apps = _migrate(PLAIN)
    try:
        facility = apps.get_model("accounts", "Facility").objects.create(
            code="mig",
            name_en="Hospital",
            name_ar="مستشفى",
            kind="hospital",
            governorate="khan_younis",
        )
        common = {"name_latin": "A", "name_arabic": "أ", "date_of_birth": "1980-01-01"}
        patient = apps.get_model("patients", "Patient").objects.create(
            **common,
            national_id="400 123-456",
            sex="female",
            facility=facility,
            priority="urgent",
            clinical_category="oncology",
            case_reference="EV-MIGR01",
        )
        apps.get_model("patients", "Companion").objects.create(
            **common, national_id="400123457", sex="male", patient=patient, relationship="son"
        )
        apps.get_model("patients", "Returnee").objects.create(
            **common, national_id="٤٠٠١٢٣٤٥٨", sex="male", left_on="2024-01-01", reference="RT-M1"
        )

        apps = _migrate(ENCRYPTED)
        expected = {"patient": "400123456", "companion": "400123457", "returnee": "400123458"}
        for name, number in expected.items():
            table = f"patients_{name}"
            assert "national_id" not in _columns(table)
            [(token, digest)] = _raw(
                f"SELECT national_id_encrypted, national_id_hash FROM {table}"  # noqa: S608
            )
            assert token.startswith("gAAAAA") and number not in token
            assert crypto.decrypt(token) == number
            assert digest == crypto.keyed_hash(number)
            assert apps.get_model("patients", name).objects.get().national_id == number

        # Going back puts the (normalised) numbers in the plain column again.
        _migrate(PLAIN)
        assert _raw("SELECT national_id FROM patients_patient") == [("400123456",)]
        assert "national_id_encrypted" not in _columns("patients_patient")
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
