"""The probes a load balancer and monitoring call every few seconds: /healthz and /readyz.

`/healthz` says the process answers, and touches nothing else. `/readyz` says the deployment
works: the database answers, every migration is applied, the broker answers, a worker reads each
queue (a heartbeat that Celery beat sends to each queue, proving beat -> broker -> worker), and
the notification sweeper and the sealing of the access log ran recently. Both answer JSON
without authentication, and hold no personal data: check names, yes or no, ages in seconds, an
exception's type name at most.

Heartbeats hold the time of the Redis server, and readyz measures ages on that same clock, so
web, worker and beat machines whose clocks differ do not fake a stale or a fresh heartbeat.

In eager mode (no REDIS_URL: `make run`) there is no broker, worker or beat: those checks say
"eager" and pass."""

import logging
from functools import lru_cache

import redis
from celery import shared_task
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe
from redis.backoff import NoBackoff
from redis.retry import Retry

from casetracker.celery import app as celery_app
from casetracker.notifications.queues import queue_names

logger = logging.getLogger(__name__)

SWEEPER = "sweeper"
# The sealing of the access log's lanes into the main chain (casetracker/audit/tasks.py).
SEALER = "sealer"
# Heartbeat keys expire: a queue or a deployment that is gone leaves nothing behind in Redis.
BEAT_KEY_TTL_SECONDS = 24 * 60 * 60

Check = dict[str, object]


def worker_beat(queue: str) -> str:
    return f"worker:{queue}"


def beat_key(name: str) -> str:
    # Beside the queues of this deployment (or of this test run), whose name it carries.
    return f"health:{celery_app.conf.task_default_queue}:{name}"


@lru_cache(maxsize=4)
def _redis(url: str) -> redis.Redis:
    # A probe answers at once or says no: short timeouts and no retries (redis-py would retry a
    # refused connection with a backoff).
    return redis.Redis.from_url(
        url, socket_connect_timeout=1, socket_timeout=1, retry=Retry(NoBackoff(), 0)
    )


def record_beat(name: str) -> None:
    """Write the Redis server's time under `name`. Never raises: a heartbeat that cannot be
    written shows as stale, which is what readyz is for."""
    if not settings.REDIS_URL:
        return  # eager mode: nothing to record, nothing watches
    client = _redis(settings.REDIS_URL)
    try:
        seconds, microseconds = client.time()
        client.set(beat_key(name), f"{seconds}.{microseconds:06d}", ex=BEAT_KEY_TTL_SECONDS)
    except redis.RedisError as exc:
        logger.warning("could not record the %s heartbeat: %s", name, type(exc).__name__)


@shared_task(ignore_result=True)
def record_worker_heartbeat(queue: str) -> None:
    """Sent by beat to each queue (CELERY_BEAT_SCHEDULE); run by whichever worker reads it."""
    record_beat(worker_beat(queue))


# --- Checks ---------------------------------------------------------------------------------


def _database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True}


# Once every migration is applied it stays so for the life of the process (a deployment that
# rolls a migration back restarts its processes): loading the migration graph at every probe
# would cost more than everything else readyz does.
_migrated = False


def _migrations() -> Check:
    global _migrated
    if _migrated:
        return {"ok": True}
    try:
        executor = MigrationExecutor(connection)
        pending = len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    except DatabaseError as exc:
        return {"ok": False, "error": type(exc).__name__}
    _migrated = pending == 0
    return {"ok": _migrated} if _migrated else {"ok": False, "pending": pending}


def _beats() -> dict[str, float]:
    """Each heartbeat readyz expects, with the age past which it is stale."""
    worker_age = settings.HEALTH_WORKER_MAX_AGE_SECONDS
    beats = {
        worker_beat(queue): worker_age for queue in queue_names(celery_app.conf.task_default_queue)
    }
    beats[SWEEPER] = settings.HEALTH_SWEEPER_MAX_AGE_SECONDS
    beats[SEALER] = settings.HEALTH_SEALER_MAX_AGE_SECONDS
    return beats


def _celery() -> dict[str, Check]:
    if not settings.REDIS_URL:
        eager = {"ok": True, "mode": "eager"}
        return {"broker": eager, "worker": eager, SWEEPER: eager, SEALER: eager}
    beats = _beats()
    try:
        # One round trip: the server's clock and every heartbeat.
        pipe = _redis(settings.REDIS_URL).pipeline(transaction=False)
        pipe.time()
        pipe.mget([beat_key(name) for name in beats])
        (seconds, microseconds), values = pipe.execute()
    except redis.RedisError as exc:
        return {
            "broker": {"ok": False, "error": type(exc).__name__},
            **{name: {"ok": False, "age_seconds": None} for name in beats},
        }
    now = seconds + microseconds / 1_000_000
    checks: dict[str, Check] = {"broker": {"ok": True}}
    for (name, max_age), value in zip(beats.items(), values, strict=True):
        age = None if value is None else round(max(now - float(value), 0.0), 1)
        checks[name] = {
            "ok": age is not None and age <= max_age,
            "age_seconds": age,
            "max_age_seconds": max_age,
        }
    return checks


def readiness() -> dict[str, Check]:
    checks = {"database": _database()}
    checks["migrations"] = _migrations() if checks["database"]["ok"] else {"ok": False}
    checks.update(_celery())
    return checks


# --- Views ----------------------------------------------------------------------------------

_was_ready: bool | None = None


def _log_change(ready: bool, checks: dict[str, Check]) -> None:
    """One line when this process's answer changes, not one per probe."""
    global _was_ready
    if ready == _was_ready:
        return
    _was_ready = ready
    if ready:
        logger.info("readyz: ready")
    else:
        failing = ", ".join(name for name, check in checks.items() if not check["ok"])
        logger.warning("readyz: not ready, failing: %s", failing)


def _answer(body: dict, status: int) -> HttpResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    # Set by CommonMiddleware for other answers, which the probes skip.
    response["Content-Length"] = str(len(response.content))
    # Django logs every 5xx as an error (and mails it to ADMINS): at one probe every few
    # seconds an outage would drown the log. `_log_change` says it once instead.
    response._has_been_logged = True
    return response


@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    return _answer({"status": "ok"}, 200)


@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    checks = readiness()
    ready = all(check["ok"] for check in checks.values())
    _log_change(ready, checks)
    return _answer({"status": "ok" if ready else "fail", "checks": checks}, 200 if ready else 503)


PROBES = {"/healthz": healthz, "/readyz": readyz}


class ProbeMiddleware:
    """First in MIDDLEWARE: answers the probes before anything else runs. A load balancer
    probes an address (its Host header is not in ALLOWED_HOSTS), over plain HTTP (no redirect to
    HTTPS), without a session (no sign-in or two-factor redirect), every few seconds (no
    session, language or audit work). The probes build no URL from the Host header, so skipping
    its check is safe. Other methods go the usual way (the policy table answers 405)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is not None and request.method in ("GET", "HEAD"):
            return probe(request)
        return self.get_response(request)
