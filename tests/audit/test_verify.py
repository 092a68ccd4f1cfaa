import io

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from casetracker.audit.models import Event
from patients.services import patient_register

pytestmark = pytest.mark.django_db


@pytest.fixture
def log(coordinator, facility):
    """Three chained events, as the services write them."""
    for n in range(3):
        patient_register(
            actor=coordinator,
            name_latin=f"Person {n}",
            name_arabic="شخص",
            national_id=f"40000000{n}",
            date_of_birth="1980-01-01",
            sex="female",
            facility=facility,
            priority="urgent",
            clinical_category="oncology",
        )
    return list(Event.objects.order_by("id"))


def _verify() -> str:
    out = io.StringIO()
    call_command("verify_audit_log", stdout=out)
    return out.getvalue()


def _raw(sql: str, params: list) -> None:
    """Behind the application's back, as someone with database access would: on PostgreSQL
    that means switching the append-only trigger off first (rolled back with the test)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Deferred foreign-key checks of this test's inserts must run before the ALTER.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only")
        cursor.execute(sql, params)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_event SET reason_text = 'edited later' WHERE id = %s",
        "DELETE FROM audit_event WHERE id = %s",
    ],
)
def test_database_refuses_to_change_an_event(require_postgres, log, sql):
    with (
        pytest.raises(DatabaseError, match="audit events are append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [log[0].pk])
    assert Event.objects.get(pk=log[0].pk).reason_text == ""


def test_model_refuses_to_change_an_event(log):
    event = log[0]
    event.chained_text = "edited later"
    with pytest.raises(RuntimeError, match="append-only"):
        event.save()
    with pytest.raises(RuntimeError, match="append-only"):
        event.delete()
    assert Event.objects.count() == 3


def test_verify_audit_log_accepts_an_intact_chain(log):
    assert "Audit log intact: 3 events." in _verify()


def test_verify_audit_log_finds_an_altered_event(log):
    _raw("UPDATE audit_event SET reason_text = %s WHERE id = %s", ["edited later", log[1].pk])
    with pytest.raises(CommandError, match=f"broken at event {log[1].pk}: content differs"):
        _verify()


def test_verify_audit_log_finds_a_removed_event(log):
    _raw("DELETE FROM audit_event WHERE id = %s", [log[1].pk])
    with pytest.raises(CommandError, match=f"broken at event {log[2].pk}: does not follow"):
        _verify()


def test_verify_audit_log_finds_the_newest_event_removed(log):
    _raw("DELETE FROM audit_event WHERE id = %s", [log[2].pk])
    with pytest.raises(CommandError, match="end of the log: the newest events are missing"):
        _verify()
