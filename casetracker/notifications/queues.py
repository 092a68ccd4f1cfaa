"""The Celery queues: one for the quick work, and one for each slow delivery channel.

SMS and webhooks are HTTP calls to third parties: each may take up to
NOTIFICATION_HTTP_TIMEOUT_SECONDS, and a provider or partner that is down keeps failing for
hours. On queues of their own they never hold up the inbox, the emails (handed to the
deployment's own mail relay), the sweeper or the worker heartbeat; and a partner's dead webhook
never delays a patient's SMS. One worker may read every queue (`make serve`), or each queue may
have workers of its own (`celery -A casetracker worker -Q <queue>`).

Plain functions of the default queue's name, so that settings and the tests (which give each
run a queue of its own) derive the same names."""

from kombu import Exchange, Queue

SLOW_CHANNELS = ("sms", "webhook")
# The delivery task of each slow channel (casetracker/notifications/tasks.py).
SLOW_TASKS = {
    channel: f"casetracker.notifications.tasks.deliver_{channel}_notification"
    for channel in SLOW_CHANNELS
}


def channel_queue(default: str, channel: str) -> str:
    return f"{default}.{channel}"


def queue_names(default: str) -> list[str]:
    """Every queue, the default first."""
    return [default, *(channel_queue(default, channel) for channel in SLOW_CHANNELS)]


def celery_queues(default: str) -> list[Queue]:
    """CELERY_TASK_QUEUES: what a worker started without `-Q` reads. Each queue has a direct
    exchange of its own name, as Celery would declare it."""
    return [Queue(name, Exchange(name), routing_key=name) for name in queue_names(default)]


def task_routes(default: str) -> dict[str, dict[str, str]]:
    """CELERY_TASK_ROUTES: each slow channel's delivery task to its queue; everything else goes
    to the default queue."""
    return {
        task: {"queue": channel_queue(default, channel)} for channel, task in SLOW_TASKS.items()
    }
