import pytest
import redis
from django.conf import settings

from casetracker import health
from casetracker.celery import app as celery_app
from casetracker.notifications.queues import queue_names


def every_beat() -> list[str]:
    """The heartbeats readyz expects: one per queue, the sweeper's and the sealer's."""
    workers = [health.worker_beat(q) for q in queue_names(celery_app.conf.task_default_queue)]
    return [*workers, health.SWEEPER, health.SEALER]


@pytest.fixture
def beats(require_redis):
    """The real Redis of REDIS_URL, this run's heartbeat keys removed before and after."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = [health.beat_key(name) for name in every_beat()]
    client.delete(*keys)
    yield client
    client.delete(*keys)


@pytest.fixture(autouse=True)
def fresh_probe_state(monkeypatch):
    """Each test starts as a fresh process: migrations not yet known to be applied, no answer
    given yet."""
    monkeypatch.setattr(health, "_migrated", False)
    monkeypatch.setattr(health, "_was_ready", None)
