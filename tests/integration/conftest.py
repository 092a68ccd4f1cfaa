"""Real services: a Celery worker thread consuming from the real Redis broker."""

import time
from collections.abc import Callable

import pytest
from celery.contrib.testing.worker import start_worker

from casetracker.celery import app


@pytest.fixture
def celery_worker(require_redis, mailoutbox):
    """A solo-pool worker in this process: its emails land in `mailoutbox`, its database writes
    are visible to the test (use `django_db(transaction=True)`)."""
    app.conf.task_always_eager = False
    # Leftovers of an earlier run must not be delivered into this test.
    app.control.purge()
    with start_worker(
        app, pool="solo", perform_ping_check=False, shutdown_timeout=10, loglevel="WARNING"
    ) as worker:
        yield worker


def wait_for(condition: Callable[[], bool], *, timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
