"""The migrations of issue 11 (audit/0008-0010, batches/0004-0005) on SQLite and PostgreSQL:
they go back on a database the new code has not written to, refuse to go back (before undoing
anything) once it has, and on PostgreSQL change the events table without holding it locked
while the table is read."""

import importlib
import io

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from batches.services import batch_cancel, batch_create, statement_add
from casetracker.audit.models import Event
from casetracker.audit.redaction import text_redact
from casetracker.audit.services import record_event
from casetracker.migration_ops import ReversalRefused
from tests import factories

BEFORE = [("audit", "0007_vehicle_actions"), ("batches", "0003_vehicles")]
ISSUE_11 = {
    ("audit", "0008_event_occurred_at"),
    ("audit", "0009_crossing_and_quota_events"),
    ("audit", "0010_statements_and_redaction"),
    ("batches", "0004_crossings"),
    ("batches", "0005_statements"),
}


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)


def _forward() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def _applied() -> set[tuple[str, str]]:
    return set(MigrationRecorder(connection).applied_migrations()) & ISSUE_11


def _columns(table: str) -> set[str]:
    with connection.cursor() as cursor:
        return {c.name for c in connection.introspection.get_table_description(cursor, table)}


def _tables() -> set[str]:
    return set(connection.introspection.table_names())


def _schema() -> tuple:
    return (
        _applied(),
        "occurred_at" in _columns("audit_event"),
        "text_digest" in _columns("audit_event"),
        {"audit_eventtext", "batches_statement", "batches_crossing"} & _tables(),
    )


AT_THE_LEAF = (
    ISSUE_11,
    True,
    True,
    {"audit_eventtext", "batches_statement", "batches_crossing"},
)


@pytest.mark.django_db(transaction=True)
def test_migrations_go_back_on_a_database_the_new_code_has_not_written_to():
    try:
        _migrate(BEFORE)
        assert _schema() == (set(), False, False, set())
        _forward()
        assert _schema() == AT_THE_LEAF
        # And back with the command, whose plan is checked as a whole first.
        call_command("migrate", "audit", "0007_vehicle_actions", verbosity=0)
        assert _schema()[0] == {("batches", "0004_crossings")}
    finally:
        _forward()


@pytest.fixture
def statement(db, coordinator, facility):
    batch = batch_create(
        actor=coordinator,
        direction="exit",
        planned_date=timezone.localdate(),
        staging_facility=facility,
    )
    return statement_add(batch=batch, actor=coordinator, source="border_authority", text="Late.")


@pytest.mark.django_db(transaction=True)
def test_migration_refuses_to_go_back_after_a_statement_and_changes_nothing(statement):
    try:
        with pytest.raises(
            ReversalRefused, match=r"Cannot reverse batches\.0005_statements: 1 statements are"
        ) as info:
            _migrate([("batches", "0004_crossings")])
        assert "forward-only" in str(info.value)
        assert _schema() == AT_THE_LEAF
        assert statement.__class__.objects.get().text == "Late."
    finally:
        _forward()


@pytest.mark.django_db(transaction=True)
def test_migrate_refuses_the_whole_plan_before_going_back_at_all(coordinator):
    """An event with its occurred time blocks audit/0008, which `migrate` reverses last: the
    command refuses before batches/0005, audit/0010 and audit/0009 are undone."""
    with transaction.atomic():
        record_event(subject_type="patient", subject_ref="EV-MIGR01", action="register",
                     actor=coordinator)  # fmt: skip
    try:
        with pytest.raises(ReversalRefused) as info:
            call_command("migrate", "audit", "0007_vehicle_actions", verbosity=0)
        message = str(info.value)
        assert "Cannot reverse audit.0008_event_occurred_at: 1 events record when they" in message
        assert "batches.0005" not in message  # nothing blocks those: named only what blocks
        assert _schema() == AT_THE_LEAF
        assert Event.objects.get().occurred_at is not None
    finally:
        _forward()


# --- What blocks each reversal ------------------------------------------------------------------


def _check(module: str):
    """The reversal check of a migration (its last operation), on the current models."""
    from django.apps import apps

    migration = importlib.import_module(module).Migration
    refuse = migration.operations[-1].reverse_code
    return lambda: refuse.reversal_check(apps, "default")


AUDIT_0008 = "casetracker.audit.migrations.0008_event_occurred_at"
AUDIT_0009 = "casetracker.audit.migrations.0009_crossing_and_quota_events"
AUDIT_0010 = "casetracker.audit.migrations.0010_statements_and_redaction"
BATCHES_0004 = "batches.migrations.0004_crossings"
BATCHES_0005 = "batches.migrations.0005_statements"
EVERY = (AUDIT_0008, AUDIT_0009, AUDIT_0010, BATCHES_0004, BATCHES_0005)


@pytest.mark.django_db
def test_nothing_blocks_going_back_on_an_untouched_database():
    factories.rafah()
    assert {module: _check(module)() for module in EVERY} == {module: [] for module in EVERY}


@pytest.mark.django_db
def test_a_redacted_cancel_text_blocks_batches_0005(coordinator, admin_user, facility):
    batch = batch_create(
        actor=coordinator,
        direction="exit",
        planned_date=timezone.localdate(),
        staging_facility=facility,
    )
    batch_cancel(batch=batch, actor=coordinator, reason_code="security", reason_text="Ahmad",
                 source="border_authority")  # fmt: skip
    event = Event.objects.get(action="cancel")
    text_redact(text_id=event.pk, actor=admin_user, reason="names a person")
    assert _check(BATCHES_0005)() == [
        "1 cancelled batches have a blank cancel text (redacted), which the older check refuses"
    ]
    problems = _check(AUDIT_0010)()
    assert problems[0] == "2 texts are kept beside their events (audit_eventtext)"
    assert _check(AUDIT_0009)() == [
        "1 events have an action the older check refuses "
        "(crossing_state, quota_change, statement, redact)"
    ]
    assert _check(AUDIT_0008)()[0].startswith(f"{Event.objects.count()} events record when")


@pytest.mark.django_db
def test_who_relayed_a_cancellation_blocks_batches_0005(coordinator, facility):
    batch = batch_create(
        actor=coordinator,
        direction="exit",
        planned_date=timezone.localdate(),
        staging_facility=facility,
    )
    batch_cancel(batch=batch, actor=coordinator, reason_code="security", reason_text="Closed.",
                 source="border_authority", relayed_by="who")  # fmt: skip
    assert _check(BATCHES_0005)() == ["1 cancelled batches record who relayed the cancellation"]


@pytest.mark.django_db
def test_a_crossing_of_its_own_blocks_batches_0004(admin_user):
    factories.rafah()
    factories.CrossingFactory()  # Kerem Shalom
    assert _check(BATCHES_0004)() == [
        "crossings other than Rafah exist (kerem-shalom), with their batches and quotas, which "
        "the older schema refuses"
    ]


@pytest.mark.django_db
def test_rafah_closed_blocks_batches_0004_and_its_event_audit_0009(admin_user):
    from batches.services.crossings import crossing_set_state

    crossing_set_state(crossing=factories.rafah(), state="closed", actor=admin_user,
                       reason_text="Closed by the authorities", source="who")  # fmt: skip
    assert _check(BATCHES_0004)() == [
        "Rafah's crossing row holds what the older schema has no place for (state, "
        "state_reason, state_source)"
    ]
    assert _check(AUDIT_0009)() == [
        "1 events have an action the older check refuses "
        "(crossing_state, quota_change, statement, redact)",
        "1 events are about a subject the older check refuses (crossing, quota, facility)",
    ]


# --- PostgreSQL: the events table is not held locked while it is read ---------------------------


def _sql(app: str, migration: str) -> str:
    out = io.StringIO()
    call_command("sqlmigrate", app, migration, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_migrations_change_the_events_table_without_locking_it_while_reading(require_postgres):
    index = _sql("audit", "0008_event_occurred_at")
    assert 'CREATE INDEX CONCURRENTLY "audit_event_occurred_idx"' in index
    assert "BEGIN;" not in index  # not in a transaction: CONCURRENTLY cannot be
    checks = _sql("audit", "0009_crossing_and_quota_events")
    for name in ("event_subject_type_valid", "event_action_valid"):
        assert checks.count(f'ADD CONSTRAINT "{name}"') == 1
        assert f'CONSTRAINT "{name}" CHECK' in checks
        assert f'VALIDATE CONSTRAINT "{name}"' in checks
    assert checks.count("NOT VALID") == 2
    # Each check of the events table changes once: audit/0010 no longer touches them.
    assert "event_action_valid" not in _sql("audit", "0010_statements_and_redaction")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, convalidated FROM pg_constraint WHERE conrelid = "
            "'audit_event'::regclass AND contype = 'c' ORDER BY conname"
        )
        assert all(valid for _name, valid in cursor.fetchall())
        cursor.execute(
            "SELECT indisvalid FROM pg_index "
            "WHERE indexrelid = 'audit_event_occurred_idx'::regclass"
        )
        assert cursor.fetchone() == (True,)
