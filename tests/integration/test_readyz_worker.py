"""/readyz against a real Celery worker with its beat, on the real Redis: the heartbeats beat sends
to every queue arrive through the broker and a worker, the sweeper runs, readyz turns ready;
the worker stopped, its heartbeats go stale and readyz says so."""

import json

import pytest
import redis
from django.conf import settings
from django.test import Client

from casetracker import health
from casetracker.celery import app as celery_app
from casetracker.notifications.queues import queue_names
from tests.integration.conftest import wait_for
from tests.integration.processes import worker_process

pytestmark = pytest.mark.django_db(transaction=True)

QUEUE = celery_app.conf.task_default_queue
WORKERS = [health.worker_beat(queue) for queue in queue_names(QUEUE)]


def readyz() -> tuple[int, dict]:
    response = Client().get("/readyz")
    return response.status_code, json.loads(response.content)


@pytest.fixture
def no_heartbeats(require_postgres, require_redis, monkeypatch):
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = [health.beat_key(name) for name in [*WORKERS, health.SWEEPER, health.SEALER]]
    client.delete(*keys)
    monkeypatch.setattr(health, "_migrated", False)
    yield
    client.delete(*keys)
    # The heartbeats beat sent as it stopped, which no worker will read.
    celery_app.control.purge()


def test_readyz_worker_heartbeats_arrive_then_go_stale(no_heartbeats, settings, tmp_path):
    status, body = readyz()
    assert status == 503
    assert all(body["checks"][name]["age_seconds"] is None for name in WORKERS)

    fast = {
        "HEALTH_HEARTBEAT_SECONDS": "1",
        "NOTIFICATION_SWEEP_INTERVAL_SECONDS": "1",
        "AUDIT_SEAL_INTERVAL_SECONDS": "1",
    }
    options = {"redis_url": settings.REDIS_URL, "queue": QUEUE, "workdir": tmp_path, "env": fast}
    with worker_process(beat=True, **options) as worker:
        try:
            wait_for(lambda: readyz()[0] == 200, timeout=60, what="readyz to turn ready")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{readyz()[1]}\n{worker.log()}") from None
    status, body = readyz()
    assert status == 200
    for name in [*WORKERS, health.SWEEPER, health.SEALER]:
        assert body["checks"][name]["ok"] is True, name
        assert body["checks"][name]["age_seconds"] is not None

    # The worker and beat are gone: no heartbeat arrives any more.
    settings.HEALTH_WORKER_MAX_AGE_SECONDS = 2

    def all_stale() -> bool:
        status, body = readyz()
        return status == 503 and not any(body["checks"][name]["ok"] for name in WORKERS)

    wait_for(all_stale, timeout=30, what="every heartbeat to go stale")
    checks = readyz()[1]["checks"]
    assert all(checks[name]["age_seconds"] > 2 for name in WORKERS)
