"""/healthz and /readyz (casetracker/health.py): what a load balancer and monitoring read."""

import json
import logging
import socket

import pytest
from django.db import OperationalError, connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client

from casetracker import health
from casetracker.audit.tasks import seal_access_log
from casetracker.notifications import tasks
from tests import factories
from tests.serve.conftest import every_beat

# Every key a probe's answer may hold: nothing else can carry data.
VOCABULARY = {"status", "checks", "ok", "age_seconds", "max_age_seconds", "error", "mode"}
VOCABULARY |= {"pending", *every_beat(), "database", "migrations", "broker", "worker"}


def probe(path: str, client: Client | None = None, **headers):
    response = (client or Client()).get(path, **headers)
    return response, json.loads(response.content)


def keys_of(body) -> set[str]:
    if isinstance(body, dict):
        return set(body) | {key for value in body.values() for key in keys_of(value)}
    return set()


def all_beats_now() -> None:
    for name in every_beat():
        health.record_beat(name)


def set_age(client, name: str, seconds: float) -> None:
    """Make a heartbeat `seconds` old on the Redis server's clock."""
    now, micro = client.time()
    client.set(health.beat_key(name), f"{now + micro / 1e6 - seconds:.6f}")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- /healthz -------------------------------------------------------------------------------


def test_healthz_answers_without_the_database():
    # No `db` fixture: any database access would raise.
    response, body = probe("/healthz")
    assert response.status_code == 200
    assert body == {"status": "ok"}
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Length"] == str(len(response.content))


def test_healthz_answers_a_load_balancer_by_address_over_plain_http(db, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["casetracker.example.org"]
    # What the probes skip is really in force: a page is redirected, an unknown host refused.
    assert Client().get("/", HTTP_HOST="casetracker.example.org").status_code == 301
    assert Client().get("/", HTTP_HOST="10.0.0.7:8000").status_code == 400

    for path in ("/healthz", "/readyz"):
        response = Client().get(path, HTTP_HOST="10.0.0.7:8000")
        assert response.status_code in (200, 503), path
        assert "Location" not in response


def test_healthz_and_readyz_refuse_writes():
    for path in ("/healthz", "/readyz"):
        assert Client().post(path).status_code == 405


def test_healthz_session_without_second_factor_is_not_redirected(settings, coordinator):
    settings.TWO_FACTOR_REQUIRED = True
    client = Client()
    client.force_login(coordinator)
    assert client.get("/today/").status_code == 302  # sent to the second factor
    response, body = probe("/healthz", client)
    assert (response.status_code, body) == (200, {"status": "ok"})


# --- /readyz --------------------------------------------------------------------------------


def test_readyz_everything_fresh_is_ready(db, beats):
    all_beats_now()

    response, body = probe("/readyz")

    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "migrations", "broker", *every_beat()}
    assert all(check["ok"] for check in body["checks"].values())
    for name in every_beat():
        assert 0 <= body["checks"][name]["age_seconds"] < 60
    assert response["Cache-Control"] == "no-store"


def test_readyz_eager_mode_needs_the_database_only(db, settings):
    settings.REDIS_URL = ""

    response, body = probe("/readyz")

    assert response.status_code == 200
    assert body == {
        "status": "ok",
        "checks": {
            "database": {"ok": True},
            "migrations": {"ok": True},
            "broker": {"ok": True, "mode": "eager"},
            "worker": {"ok": True, "mode": "eager"},
            "sweeper": {"ok": True, "mode": "eager"},
            "sealer": {"ok": True, "mode": "eager"},
        },
    }


def test_readyz_database_down_fails_and_names_no_detail(db, settings, monkeypatch):
    settings.REDIS_URL = ""
    secret = "Key (national_id)=(999777311) SENTINEL-NAME-7731"

    def refuse():
        raise OperationalError(f'connection to server failed: FATAL: "{secret}"')

    with monkeypatch.context() as patch:
        patch.setattr(connection, "cursor", refuse)
        response, body = probe("/readyz")

    assert response.status_code == 503
    assert body["status"] == "fail"
    assert body["checks"]["database"] == {"ok": False, "error": "OperationalError"}
    assert body["checks"]["migrations"] == {"ok": False}
    assert "999777311" not in response.content.decode()
    assert "SENTINEL" not in response.content.decode()


def test_readyz_pending_migration_fails_until_applied(db, settings):
    settings.REDIS_URL = ""
    # New code deployed, its migration not yet run: the latest migration of an app unapplied.
    latest = max(n for n in MigrationLoader(connection).graph.leaf_nodes() if n[0] == "patients")
    recorder = MigrationRecorder(connection)
    recorder.record_unapplied(*latest)

    response, body = probe("/readyz")

    assert response.status_code == 503
    assert body["checks"]["migrations"] == {"ok": False, "pending": 1}
    # Not cached while pending: applied meanwhile, the next probe says so.
    recorder.record_applied(*latest)
    response, body = probe("/readyz")
    assert response.status_code == 200
    assert body["checks"]["migrations"] == {"ok": True}


def test_readyz_applied_migrations_are_checked_once_per_process(
    db, settings, django_assert_num_queries
):
    settings.REDIS_URL = ""
    assert probe("/readyz")[0].status_code == 200
    # From then on a probe costs one query: `SELECT 1`.
    with django_assert_num_queries(1) as queries:
        assert probe("/readyz")[0].status_code == 200
    assert queries.captured_queries[0]["sql"] == "SELECT 1"


def test_readyz_broker_down_fails(db, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"

    response, body = probe("/readyz")

    assert response.status_code == 503
    checks = body["checks"]
    assert checks["database"]["ok"] and checks["migrations"]["ok"]
    assert checks["broker"] == {"ok": False, "error": "ConnectionError"}
    for name in every_beat():
        assert checks[name] == {"ok": False, "age_seconds": None}


def test_readyz_stale_worker_heartbeat_fails(db, beats, settings):
    settings.HEALTH_WORKER_MAX_AGE_SECONDS = 120
    all_beats_now()
    stale = every_beat()[-3]  # the last queue's worker
    set_age(beats, stale, 300)

    response, body = probe("/readyz")

    assert response.status_code == 503
    check = body["checks"][stale]
    assert check["ok"] is False
    assert 299 <= check["age_seconds"] <= 330
    assert check["max_age_seconds"] == 120
    assert [name for name, c in body["checks"].items() if not c["ok"]] == [stale]


def test_readyz_missing_worker_heartbeat_fails(db, beats):
    all_beats_now()
    missing = health.beat_key(every_beat()[0])
    beats.delete(missing)

    response, body = probe("/readyz")

    assert response.status_code == 503
    assert body["checks"][every_beat()[0]]["age_seconds"] is None


def test_readyz_stale_sweeper_fails_and_a_sweep_makes_it_fresh(db, beats, settings):
    settings.HEALTH_SWEEPER_MAX_AGE_SECONDS = 180
    all_beats_now()
    set_age(beats, health.SWEEPER, 600)

    response, body = probe("/readyz")
    assert response.status_code == 503
    assert body["checks"][health.SWEEPER]["ok"] is False

    assert tasks.sweep_pending_notifications() == 0  # nothing to do, and it ran
    response, body = probe("/readyz")
    assert response.status_code == 200
    assert body["checks"][health.SWEEPER]["age_seconds"] < 60


def test_readyz_stale_sealer_fails_and_a_sealing_makes_it_fresh(db, beats, settings):
    settings.HEALTH_SEALER_MAX_AGE_SECONDS = 180
    all_beats_now()
    set_age(beats, health.SEALER, 600)

    response, body = probe("/readyz")
    assert response.status_code == 503
    assert [name for name, check in body["checks"].items() if not check["ok"]] == ["sealer"]

    assert seal_access_log() is None  # nothing read since, and it ran
    response, body = probe("/readyz")
    assert response.status_code == 200
    assert body["checks"][health.SEALER]["age_seconds"] < 60


def test_readyz_bodies_hold_no_personal_data(db, beats, settings):
    patient = factories.PatientFactory(name_latin="SENTINEL-NAME-7731", national_id="999777311")
    all_beats_now()
    bodies = [probe("/readyz")[1], probe("/healthz")[1]]
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    bodies.append(probe("/readyz")[1])

    for body in bodies:
        assert keys_of(body) <= VOCABULARY
        text = json.dumps(body)
        for value in (patient.name_latin, patient.national_id, patient.case_reference):
            assert value not in text


def test_readyz_logs_a_change_once_not_every_probe(db, settings, caplog):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            assert probe("/readyz")[0].status_code == 503
        settings.REDIS_URL = ""
        for _ in range(2):
            assert probe("/readyz")[0].status_code == 200

    lines = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    failing = ", ".join(["broker", *every_beat()])
    # No "Service Unavailable" error per probe from django.request.
    assert lines == [
        ("casetracker.health", "WARNING", f"readyz: not ready, failing: {failing}"),
        ("casetracker.health", "INFO", "readyz: ready"),
    ]


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_anonymous_callers(db, settings, path):
    settings.REDIS_URL = ""
    response, body = probe(path)
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert "sessionid" not in response.cookies
