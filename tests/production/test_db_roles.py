"""The application's database role (`manage.py db_roles`, README "Production"): it reads and
writes the data, reads and appends to the audit log, and PostgreSQL refuses it any UPDATE,
DELETE or TRUNCATE of an audit event, while the owner of the tables keeps every right. Checked
by logging in as a real role, the way the web processes and the workers connect."""

import io
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from casetracker.audit.models import Event, EventText
from casetracker.audit.redaction import text_redact
from casetracker.audit.verify import verify_chain
from casetracker.db_roles import quoted
from tests import factories
from tests.production.work import a_day_of_work

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass(frozen=True)
class Role:
    name: str
    password: str


@pytest.fixture
def app_role(require_postgres) -> Iterator[Role]:
    """A login role of this test run (roles belong to the whole server), dropped afterwards
    with every privilege it was given."""
    role = Role(f"casetracker_app_test_{os.getpid()}", secrets.token_urlsafe(16))
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {quoted(role.name)} LOGIN PASSWORD %s", [role.password])
    try:
        yield role
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP OWNED BY {quoted(role.name)}")
            cursor.execute(f"DROP ROLE {quoted(role.name)}")


def _login(role: Role) -> psycopg.Connection:
    """A connection of its own to the test database, logged in as `role`."""
    params = connection.settings_dict
    return psycopg.connect(
        host=params["HOST"] or None,
        port=params["PORT"] or None,
        dbname=params["NAME"],
        user=role.name,
        password=role.password,
        autocommit=True,
    )


@contextmanager
def _application_as(role: Role) -> Iterator[None]:
    """Django's connection logs in as `role` inside the block, as the application does when its
    DATABASE_URL names that role."""
    params = connection.settings_dict
    saved = params["USER"], params["PASSWORD"]
    connection.close()
    params["USER"], params["PASSWORD"] = role.name, role.password
    try:
        yield
    finally:
        connection.close()
        params["USER"], params["PASSWORD"] = saved


def _db_roles(*args: str) -> str:
    out = io.StringIO()
    call_command("db_roles", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _refused(conn: psycopg.Connection, sql: str, params: list | None = None) -> str:
    """The statement is refused for lack of privilege (not by a trigger); the message."""
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as refusal:
        conn.execute(sql, params)
    return str(refusal.value)


@pytest.fixture
def day(coordinator, admin_user, facility):
    return a_day_of_work(coordinator=coordinator, admin=admin_user, facility=facility)


def test_db_roles_holds_the_application_to_reading_and_appending(app_role, day):
    # A role given everything, as an application that owns its tables has: the check says what
    # it may do to the audit log.
    with connection.cursor() as cursor:
        cursor.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {quoted(app_role.name)}")
    excess = f"audit_event: {app_role.name} may DELETE, TRUNCATE, UPDATE;"
    with pytest.raises(CommandError, match=re.escape(excess)):
        _db_roles("--app-role", app_role.name, "--check")

    assert "Applied" in _db_roles("--app-role", app_role.name, "--apply")
    # Idempotent: a second run (after every migrate) changes nothing and still checks out.
    assert "Applied" in _db_roles("--app-role", app_role.name, "--apply")
    assert "cannot change or remove it" in _db_roles("--app-role", app_role.name, "--check")

    event = Event.objects.filter(action="cancel").get()
    with _login(app_role) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (app_role.name,)
        # Reading and appending work (the row is rolled back: it is not chained).
        assert conn.execute("SELECT count(*) FROM audit_event").fetchone() == (
            Event.objects.count(),
        )
        with conn.transaction(force_rollback=True):
            conn.execute(
                "INSERT INTO audit_event (created_at, subject_type, subject_ref, batch_ref, "
                "action, from_state, to_state, actor_role, reason_code, reason_text, "
                "text_digest, source, channel, request_id, details, prev_hash, hash) VALUES "
                "(now(), 'batch', 'RAF-X', '', 'update', '', '', 'system', '', '', '', '', "
                "'command', '', '{}', %s, %s)",
                ["0" * 64, secrets.token_hex(32)],
            )
        # Refused by privilege, before any trigger runs.
        for sql in (
            "UPDATE audit_event SET reason_code = 'weather' WHERE id = %s",
            "DELETE FROM audit_event WHERE id = %s",
        ):
            assert "permission denied for table audit_event" in _refused(conn, sql, [event.pk])
        assert "permission denied for table audit_event" in _refused(
            conn, "TRUNCATE audit_event CASCADE"
        )
        # The triggers guard every role, but a table's owner may switch them off: not this one.
        assert "must be owner of table audit_event" in _refused(
            conn, "ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"
        )
        # The kept texts: never removed, and their event never changed.
        for sql in (
            "DELETE FROM audit_eventtext WHERE event_id = %s",
            "UPDATE audit_eventtext SET event_id = event_id WHERE event_id = %s",
        ):
            assert "permission denied for table audit_eventtext" in _refused(conn, sql, [event.pk])
        assert "permission denied for table audit_eventtext" in _refused(
            conn, "TRUNCATE audit_eventtext"
        )
        for head, sql in (
            ("audit_chainhead", "DELETE FROM audit_chainhead"),
            ("audit_accesslane", "DELETE FROM audit_accesslane"),
        ):
            assert f"permission denied for table {head}" in _refused(conn, sql)
    assert Event.objects.filter(pk=event.pk, reason_code="security").exists()

    # The owner, who runs the migrations, keeps every right on the audit tables.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT bool_and(has_table_privilege(tableowner, tablename, privilege)) "
            "FROM pg_tables, unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) "
            "AS privilege WHERE tablename LIKE 'audit\\_%'"
        )
        assert cursor.fetchone() == (True,)


def test_application_works_as_its_role(app_role, coordinator, admin_user, facility):
    """Everything the application writes to the audit log (events in the main chain, reads in
    the access lanes and their seal, a kept text, its redaction, and the redaction of that
    redaction's reason) passes as the role, and the log it wrote verifies."""
    _db_roles("--app-role", app_role.name, "--apply")
    with _application_as(app_role):
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone() == (app_role.name,)
        day = a_day_of_work(coordinator=coordinator, admin=admin_user, facility=facility)
        redaction = Event.objects.get(action="redact")
        text_redact(text_id=redaction.pk, actor=admin_user, reason="the reason names him too")
        factories.PatientFactory(facility=facility)  # and any other table, as before
        report = verify_chain()
    assert report.ok, report
    assert Event.objects.filter(action="view", lane__isnull=False).exists()
    assert Event.objects.filter(action="seal").exists()
    assert EventText.objects.get(pk=redaction.pk).redacted_at is not None
    assert (
        EventText.objects.get(
            pk=Event.objects.get(subject_ref=day.cancelled.code, action="cancel").pk
        ).redaction_reason
        == ""
    )


def test_db_roles_refuses_a_role_that_owns_the_tables(require_postgres):
    owner = connection.settings_dict["USER"]
    with pytest.raises(CommandError, match=f"{owner} is a superuser|{owner} is {owner}"):
        _db_roles("--app-role", owner, "--apply")


def test_db_roles_prints_the_statements_for_the_operator(app_role):
    printed = _db_roles("--app-role", app_role.name)
    role = quoted(app_role.name)
    assert printed.startswith("BEGIN;\n") and printed.rstrip().endswith("COMMIT;")
    assert f'REVOKE UPDATE, DELETE ON "public"."audit_event" FROM {role};' in printed
    assert (
        f'GRANT UPDATE ("text", "redacted_at", "redacted_by_id", "redaction_reason", '
        f'"redaction_event_id") ON "public"."audit_eventtext" TO {role};'
    ) in printed
    assert "TRUNCATE" not in printed.replace("REVOKE ALL", "")
