"""The Celery queues (casetracker/notifications/queues.py): the slow channels' deliveries on
queues of their own, a worker without -Q reading all of them, a heartbeat for each."""

import pytest
from django.conf import settings

from casetracker.celery import app as celery_app
from casetracker.notifications import tasks
from casetracker.notifications.queues import queue_names

QUEUE = celery_app.conf.task_default_queue


def routed_queue(task) -> str:
    return celery_app.amqp.router.route({}, task.name)["queue"].name


@pytest.mark.parametrize(
    ("channel", "queue"),
    [("inbox", QUEUE), ("email", QUEUE), ("sms", f"{QUEUE}.sms"), ("webhook", f"{QUEUE}.webhook")],
)
def test_queues_each_channel_is_delivered_from_its_queue(channel, queue):
    assert routed_queue(tasks.delivery_task(channel)) == queue


def test_queues_the_sweeper_and_the_heartbeat_use_the_default_queue():
    assert routed_queue(tasks.sweep_pending_notifications) == QUEUE
    assert routed_queue(celery_app.tasks["casetracker.health.record_worker_heartbeat"]) == QUEUE


def test_queues_a_worker_without_q_reads_every_queue():
    assert sorted(celery_app.amqp.queues) == sorted(queue_names(QUEUE))
    assert len(queue_names(QUEUE)) == 3


def test_queues_every_route_names_a_registered_task():
    assert set(celery_app.conf.task_routes) <= set(celery_app.tasks)


def test_queues_beat_sends_a_heartbeat_to_every_queue_of_the_settings():
    heartbeats = {
        entry["options"]["queue"]: entry
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "casetracker.health.record_worker_heartbeat"
    }
    assert sorted(heartbeats) == sorted(queue_names(settings.CELERY_TASK_DEFAULT_QUEUE))
    for queue, entry in heartbeats.items():
        assert entry["args"] == (queue,)
        assert entry["schedule"] == settings.HEALTH_HEARTBEAT_SECONDS
