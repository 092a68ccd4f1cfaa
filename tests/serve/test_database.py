"""The connection settings production relies on: persistent, checked connections and a
statement timeout on PostgreSQL."""

import json
import os
import subprocess
import sys

import pytest
from django.db import OperationalError, connection

from tests.integration.processes import BASE_DIR

SHOW_DATABASE = (
    "import django, json; django.setup(); from django.conf import settings; "
    "db = settings.DATABASES['default']; "
    "print(json.dumps({k: db.get(k) for k in ('CONN_MAX_AGE', 'CONN_HEALTH_CHECKS', 'OPTIONS')}))"
)


def database_settings(**env) -> dict:
    """The database settings of a process started with this environment."""
    environment = {k: v for k, v in os.environ.items() if k != "CONN_MAX_AGE"}
    environment.update(env, DJANGO_SETTINGS_MODULE="casetracker.settings")
    answer = subprocess.run(  # noqa: S603 (our own command line)
        [sys.executable, "-c", SHOW_DATABASE],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(answer.stdout.strip().splitlines()[-1])


def test_database_postgres_connections_persist_with_health_checks_and_limits():
    db = database_settings(DATABASE_URL="postgres://app@db.example.org:5432/casetracker")
    assert db["CONN_MAX_AGE"] == 60
    assert db["CONN_HEALTH_CHECKS"] is True
    assert db["OPTIONS"] == {"connect_timeout": 5, "options": "-c statement_timeout=30000"}


def test_database_limits_come_from_the_environment_and_keep_the_urls_options():
    db = database_settings(
        DATABASE_URL="postgres://app@db/casetracker?options=-c%20search_path%3Dcasetracker",
        CONN_MAX_AGE="0",
        DB_STATEMENT_TIMEOUT_MS="5000",
        DB_CONNECT_TIMEOUT_SECONDS="2",
    )
    assert db["CONN_MAX_AGE"] == 0
    assert db["OPTIONS"] == {
        "connect_timeout": 2,
        "options": "-c search_path=casetracker -c statement_timeout=5000",
    }


def test_database_sqlite_is_left_as_it_was():
    db = database_settings(DATABASE_URL="sqlite:////tmp/casetracker-settings-check.sqlite3")
    assert db["CONN_MAX_AGE"] == 0
    assert "statement_timeout" not in json.dumps(db["OPTIONS"])


def test_database_statement_timeout_is_in_force_on_postgres(require_postgres, settings):
    configured = settings.DATABASES["default"]["OPTIONS"]["options"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT setting FROM pg_settings WHERE name = 'statement_timeout'")
        [(milliseconds,)] = cursor.fetchall()
    assert int(milliseconds) > 0
    assert f"statement_timeout={milliseconds}" in configured


def test_database_statement_over_the_timeout_answers_an_error_not_a_hang(require_postgres):
    # A connection made as the settings make it, with a timeout of 200 ms in place of 30 s.
    short = connection.copy()
    short.settings_dict["OPTIONS"]["options"] = "-c statement_timeout=200"
    try:
        # Without the timeout the query would sleep its 30 s and return: the error is the proof.
        with (
            pytest.raises(OperationalError, match="statement timeout"),
            short.cursor() as cursor,
        ):
            cursor.execute("SELECT pg_sleep(30)")
        with short.cursor() as cursor:  # the connection is still good
            cursor.execute("SELECT 1")
            assert cursor.fetchone() == (1,)
    finally:
        short.close()
