"""Backup and restore as README "Production" says: `pg_dump -Fc` of a database the services
wrote to, `pg_restore` into a new database, then `verify_audit_log` on the copy, run as the
operator runs it (a process of its own, its DATABASE_URL naming the copy, the same keys). The
copy proves its log intact; with another audit text key, or one event altered, it does not."""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.db import connection

from casetracker.audit.models import Event
from casetracker.db_roles import quoted
from tests.production.work import a_day_of_work

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pg_tools(require_postgres) -> dict[str, str]:
    tools = {name: shutil.which(name) for name in ("pg_dump", "pg_restore")}
    if missing := [name for name, path in tools.items() if path is None]:
        message = f"{', '.join(missing)} not on PATH (apt-get install postgresql-client)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return tools


def _url(database: str) -> str:
    params = connection.settings_dict
    password = f":{quote(params['PASSWORD'], safe='')}" if params["PASSWORD"] else ""
    host, port = params["HOST"] or "localhost", params["PORT"] or "5432"
    return f"postgres://{quote(params['USER'], safe='')}{password}@{host}:{port}/{database}"


def _server() -> psycopg.Connection:
    """A connection to the server's maintenance database, without the application's statement
    timeout: creating and dropping a database waits for a checkpoint, long on a busy server."""
    return psycopg.connect(_url("postgres"), autocommit=True, options="-c statement_timeout=0")


@pytest.fixture
def restored(require_postgres) -> Iterator[str]:
    """The name of an empty database beside the test database, dropped afterwards."""
    name = f"{connection.settings_dict['NAME']}_restore"
    with _server() as server:
        server.execute(f"DROP DATABASE IF EXISTS {quoted(name)} WITH (FORCE)")
        server.execute(f"CREATE DATABASE {quoted(name)} TEMPLATE template0")
    try:
        yield name
    finally:
        with _server() as server:
            server.execute(f"DROP DATABASE IF EXISTS {quoted(name)} WITH (FORCE)")


def _run(*command: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 (our own command lines)
        command,
        cwd=settings.BASE_DIR,
        env={**os.environ, "LOG_LEVEL": "WARNING", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _manage(database: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`python manage.py ...` against `database`, with this process's keys unless `env` says."""
    return _run(sys.executable, "manage.py", *args, DATABASE_URL=_url(database), **env)


def test_restored_backup_verifies_and_tampering_shows(
    pg_tools, restored, tmp_path: Path, coordinator, admin_user, facility
):
    day = a_day_of_work(coordinator=coordinator, admin=admin_user, facility=facility)
    source = connection.settings_dict["NAME"]
    dump = tmp_path / "casetracker.dump"

    backup = _run(pg_tools["pg_dump"], "-Fc", "--file", str(dump), _url(source))
    assert backup.returncode == 0, backup.stderr
    restore = _run(
        pg_tools["pg_restore"],
        "--exit-on-error",
        "--single-transaction",
        "--dbname",
        _url(restored),
        str(dump),
    )
    assert restore.returncode == 0, restore.stderr

    with psycopg.connect(_url(restored), autocommit=True) as copy:
        assert copy.execute("SELECT count(*) FROM audit_event").fetchone() == (
            Event.objects.count(),
        )
        assert copy.execute("SELECT count(*) FROM batches_batch").fetchone() == (2,)

        verified = _manage(restored, "verify_audit_log")
        assert verified.returncode == 0, verified.stderr
        assert "Audit log intact" in verified.stdout
        # The national IDs read back with the same encryption keys.
        shown = _manage(
            restored,
            "shell",
            "--verbosity=0",
            "-c",
            "from patients.models import Patient; "
            f"print(Patient.objects.get(case_reference={day.submitted_case!r}).national_id)",
        )
        assert shown.stdout.strip() == day.national_id, shown.stderr

        # Without the audit text key the backup was taken under, the kept texts cannot be
        # told from altered ones: the key is part of what a restore needs.
        other_key = _manage(
            restored, "verify_audit_log", AUDIT_TEXT_KEY=Fernet.generate_key().decode()
        )
        assert other_key.returncode != 0
        assert "its text differs from the digest in the chain" in other_key.stderr

        # One event altered in the copy, behind the application's back (as the owner, with
        # the append-only trigger switched off).
        cancel = Event.objects.get(subject_ref=day.cancelled.code, action="cancel")
        copy.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only")
        copy.execute("UPDATE audit_event SET reason_code = 'weather' WHERE id = %s", [cancel.pk])
        tampered = _manage(restored, "verify_audit_log")
    assert tampered.returncode != 0
    assert f"Audit log broken at event {cancel.pk}: content differs from its hash" in (
        tampered.stderr
    )
