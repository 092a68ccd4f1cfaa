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
    eager, hijack = app.conf.task_always_eager, app.conf.worker_hijack_root_logger
    app.conf.task_always_eager = False
    # The worker must not take over the root logger for the rest of the session.
    app.conf.worker_hijack_root_logger = False
    # Tasks queued by earlier transactional tests (no worker then) must not be delivered here.
    app.control.purge()
    try:
        with start_worker(
            app, pool="solo", perform_ping_check=False, shutdown_timeout=10, loglevel="WARNING"
        ) as worker:
            yield worker
    finally:
        app.conf.task_always_eager, app.conf.worker_hijack_root_logger = eager, hijack


def wait_for(condition: Callable[[], bool], *, timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
