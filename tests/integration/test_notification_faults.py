"""Notifications under faults, with real services (DESIGN sections 6 and 7): the broker down at
commit, a worker killed mid-delivery, a failing SMS provider, a replayed or altered webhook, and
what personal data reaches the broker and the outside world.

Faults that must not touch other test runs (stopping a broker, a short visibility timeout) use a
private redis-server and Celery workers in subprocesses (see `processes.py`)."""

import base64
import email
import hashlib
import hmac
import json
import logging
import shutil
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from django.db import DatabaseError, transaction

from batches import services
from casetracker.audit.models import Action
from casetracker.celery import app as celery_app
from casetracker.notifications.models import (
    Notification,
    NotificationChannel,
    NotificationStatus,
    WebhookSubscription,
)
from casetracker.notifications.queues import queue_names
from tests import factories
from tests.conftest import _missing
from tests.fakes import FakeSmsProvider, WebhookReceiver
from tests.integration.conftest import wait_for
from tests.integration.processes import WorkerProcess, private_redis, producer_on, worker_process

pytestmark = pytest.mark.django_db(transaction=True)

# This process publishes to its test queues; on a private broker no one else reads them.
QUEUE = celery_app.conf.task_default_queue
CANCEL = {
    "reason_code": "no_reason_given",
    "reason_text": "Relayed by WHO at the last minute.",
    "source": "who",
}
PHONE = "+970599000731"
PARTNER_SECRET = "partner-shared-secret-for-tests"
SENT, PENDING = NotificationStatus.SENT, NotificationStatus.PENDING
# Only the patients hear of a cancel: the SMS row is the one task in flight.
SMS_ONLY = {"cancel": ["patients_sms"]}


@pytest.fixture
def broker(require_redis, tmp_path):
    """A redis-server of this test alone: it may be stopped, and a worker on it may restore
    unacked messages early without handing other runs' messages out twice."""
    if not shutil.which("redis-server"):
        _missing("redis-server (on PATH)")
    with private_redis(tmp_path) as server:
        yield server


@pytest.fixture
def sms_provider(settings):
    with FakeSmsProvider() as provider:
        settings.SMS_PROVIDER_URL = provider.url
        settings.SMS_PROVIDER_TOKEN = provider.TOKEN
        try:
            yield provider
        finally:
            provider.release.set()  # no request thread is left waiting


@pytest.fixture
def partner(db):
    """A partner subscribed to cancellations, verifying signatures on its own."""
    with WebhookReceiver(PARTNER_SECRET) as receiver:
        WebhookSubscription.objects.create(
            name="partner", url=receiver.url, secret=PARTNER_SECRET, event_types=["batch.cancel"]
        )
        yield receiver


@pytest.fixture
def batch_for(coordinator, quota, ready_patient, facility):
    """`batch_for(staging=None, **patient_fields)`: a draft batch staged at `staging` (default:
    `facility`) with one patient, at that facility, who consented to SMS."""

    def make(staging=None, **fields):
        staging = staging or facility
        patient = ready_patient(
            facility=staging, phone=PHONE, sms_consent=True, contact_language="ar", **fields
        )
        batch = services.batch_create(
            actor=coordinator, direction="exit", planned_date=quota.date, staging_facility=staging
        )
        services.batch_add_patient(batch=batch, patient=patient, actor=coordinator)
        return batch, patient

    return make


def worker_options(broker, provider, tmp_path, **env) -> dict:
    """A worker on the private broker, reading this process's queue, with the fake provider."""
    settings_env = {"SMS_PROVIDER_URL": provider.url, "SMS_PROVIDER_TOKEN": provider.TOKEN}
    settings_env.update({name: str(value) for name, value in env.items()})
    return {"redis_url": broker.url(), "queue": QUEUE, "workdir": tmp_path, "env": settings_env}


def wait_on(worker: WorkerProcess, condition, what: str, timeout: float = 60) -> None:
    """`wait_for`, telling what the worker logged when it times out or the worker died."""

    def done():
        if not worker.running():
            raise AssertionError(f"the worker exited while waiting for {what}")
        return condition()

    try:
        wait_for(done, timeout=timeout, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- worker log ---\n{worker.log()}") from None


def queued_messages(client) -> list[bytes]:
    """The messages waiting in every queue (SMS and webhooks have queues of their own)."""
    return [raw for queue in queue_names(QUEUE) for raw in client.lrange(queue, 0, -1)]


def cancel_rows(batch):
    return Notification.objects.filter(event__action=Action.CANCEL, event__batch_ref=batch.code)


def all_sent(rows) -> bool:
    return rows.exists() and not rows.exclude(status=SENT).exists()


def emails_written(mail_dir: Path) -> list[email.message.Message]:
    """The messages of Django's file email backend: each followed by a line of 79 dashes."""
    messages = []
    for path in sorted(mail_dir.glob("*.log")):
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if chunk.strip():
                messages.append(email.message_from_bytes(chunk))
    return messages


def test_notification_faults_broker_down_at_commit_sweeper_delivers_every_row_once(
    require_postgres,
    require_redis,
    broker,
    sms_provider,
    partner,
    batch_for,
    coordinator,
    nurse,
    auditor,
    api,
    caplog,
    tmp_path,
):
    batch, _ = batch_for()
    with producer_on(celery_app, broker.url()):
        # A web process holds pooled broker connections made while the broker was up.
        with celery_app.producer_or_acquire() as producer:
            producer.connection.ensure_connection(max_retries=1)
        broker.stop()
        with caplog.at_level(logging.WARNING, logger="casetracker.notifications.services"):
            started = time.monotonic()
            response = api(coordinator).post(
                f"/api/v1/batches/{batch.code}/cancel/", CANCEL, format="json"
            )
            took = time.monotonic() - started

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    batch.refresh_from_db()
    assert batch.status == "cancelled"
    # The outbox caught the outage itself (not on_commit's robust net), and quickly.
    assert "broker unreachable" in caplog.text
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert took < 10, f"the request waited {took:.1f}s for the broker"
    rows = cancel_rows(batch)
    staff = (coordinator, nurse, auditor)
    assert sorted(rows.values_list("channel", flat=True)) == sorted(
        ["inbox", "email"] * len(staff) + ["sms", "webhook"]
    )
    assert set(rows.values_list("status", "attempts")) == {(PENDING, 0)}
    assert sms_provider.requests == [] and partner.raw == []

    broker.start()
    options = worker_options(
        broker,
        sms_provider,
        tmp_path,
        NOTIFICATION_SWEEP_INTERVAL_SECONDS=1,
        NOTIFICATION_SWEEP_AFTER_SECONDS=1,
    )
    client = broker.client()
    with worker_process(beat=True, **options) as worker:
        wait_on(worker, lambda: all_sent(rows), "the sweeper to have every row delivered")
        # A later sweep may have queued a row again meanwhile: let the worker run those tasks
        # too (the queue empty, nothing unacknowledged) before counting deliveries.
        wait_on(
            worker,
            lambda: queued_messages(client) == [] and client.hlen("unacked") == 0,
            "the worker to run every queued task",
        )
    assert "sweeper queued" in worker.log()

    for row in rows:
        assert (row.status, row.attempts, row.last_error) == (SENT, 1, ""), row
    sms_row = rows.get(channel=NotificationChannel.SMS)
    assert [r["headers"]["Idempotency-Key"] for r in sms_provider.requests] == [
        sms_row.idempotency_key
    ]
    assert [m["to"] for m in sms_provider.messages] == [PHONE]
    webhook_row = rows.get(channel=NotificationChannel.WEBHOOK)
    assert partner.refused == []
    assert [a["headers"]["X-Casetracker-Delivery"] for a in partner.accepted] == [
        webhook_row.idempotency_key
    ]
    emails = emails_written(tmp_path / "mail")
    email_rows = rows.filter(channel=NotificationChannel.EMAIL)
    assert Counter(m["X-Idempotency-Key"] for m in emails) == Counter(
        email_rows.values_list("idempotency_key", flat=True)
    )
    assert Counter(m["To"] for m in emails) == Counter(user.email for user in staff)


def _lock_free(pk: int) -> bool:
    try:
        with transaction.atomic():
            Notification.objects.select_for_update(nowait=True).get(pk=pk)
    except DatabaseError:
        return False
    return True


def test_notification_faults_worker_killed_mid_sms_redelivered_one_message_reaches_phone(
    require_postgres,
    require_redis,
    broker,
    sms_provider,
    batch_for,
    coordinator,
    settings,
    tmp_path,
):
    visibility = 3
    settings.NOTIFICATION_AUDIENCES = {**settings.NOTIFICATION_AUDIENCES, **SMS_ONLY}
    options = worker_options(
        broker,
        sms_provider,
        tmp_path,
        NOTIFY_CANCEL="patients_sms",
        CELERY_VISIBILITY_TIMEOUT=visibility,
        NOTIFICATION_RETRY_MAX_SECONDS=1,
    )
    batch, _ = batch_for()
    sms_provider.hold.set()
    with producer_on(celery_app, broker.url()):
        services.batch_cancel(batch=batch, actor=coordinator, **CANCEL)
    row = cancel_rows(batch).get()
    assert row.channel == NotificationChannel.SMS

    with worker_process(name="doomed", **options) as doomed:
        wait_on(doomed, sms_provider.arrived.is_set, "the SMS request to reach the provider")
        # The provider has the message; its answer never reaches the worker.
        doomed.kill()
    sms_provider.release.set()

    # attempts stays 0: the attempt was counted inside the transaction that locked the row,
    # and PostgreSQL rolled that transaction back when the killed worker's connection dropped.
    wait_for(lambda: _lock_free(row.pk), what="PostgreSQL to roll the killed attempt back")
    row.refresh_from_db()
    assert (row.status, row.attempts) == (PENDING, 0)
    # Acknowledged late, the message is not lost: it waits in the broker's unacked set.
    client = broker.client()
    assert queued_messages(client) == []
    assert client.hlen("unacked") == 1

    def restorable() -> bool:
        # kombu restores, when a worker starts, unacked messages older than the timeout.
        held = client.zrange("unacked_index", 0, -1, withscores=True)
        return len(held) == 1 and time.time() - held[0][1] > visibility + 0.5

    wait_for(restorable, timeout=visibility + 10, what="the visibility timeout to pass")
    with worker_process(name="fresh", **options) as fresh:
        wait_on(fresh, lambda: cancel_rows(batch).get().status == SENT, "the SMS redelivered")
        wait_on(fresh, lambda: client.hlen("unacked") == 0, "the message to be acknowledged")

    row.refresh_from_db()
    # One attempt on record although two were made: the killed one was rolled back with its
    # transaction, only the fresh worker's attempt committed.
    assert (row.status, row.attempts, row.last_error) == (SENT, 1, "")
    # Two requests with one idempotency key: the provider sent the patient one message.
    keys = [r["headers"]["Idempotency-Key"] for r in sms_provider.requests]
    assert keys == [row.idempotency_key] * 2
    assert [m["to"] for m in sms_provider.messages] == [PHONE]
    assert row.provider_message_id == "sms-1"


def test_notification_faults_sms_provider_500_twice_then_200_three_attempts_one_message(
    require_postgres, require_redis, celery_worker, sms_provider, batch_for, coordinator, settings
):
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 0.05
    settings.NOTIFICATION_RETRY_MAX_SECONDS = 0.2
    settings.NOTIFICATION_AUDIENCES = {**settings.NOTIFICATION_AUDIENCES, **SMS_ONLY}
    sms_provider.fail_with.extend([500, 500])
    batch, _ = batch_for()

    services.batch_cancel(batch=batch, actor=coordinator, **CANCEL)
    row = cancel_rows(batch).get()
    assert row.channel == NotificationChannel.SMS
    wait_for(lambda: cancel_rows(batch).get().status == SENT, what="the SMS to be sent")

    row.refresh_from_db()
    assert (row.status, row.attempts) == (SENT, 3)
    assert "HTTP 500" in row.last_error
    assert row.provider_message_id == "sms-1"
    assert [r["headers"]["Idempotency-Key"] for r in sms_provider.requests] == [
        row.idempotency_key
    ] * 3
    assert [m["to"] for m in sms_provider.messages] == [PHONE]


def _post(url: str, headers: dict, body: bytes) -> int:
    # The receiver listens on 127.0.0.1 over http.
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_notification_faults_webhook_receiver_refuses_replayed_altered_and_stale_requests(
    require_postgres, require_redis, celery_worker, partner, batch_for, coordinator
):
    batch, patient = batch_for()
    services.batch_cancel(batch=batch, actor=coordinator, **CANCEL)
    rows = cancel_rows(batch)
    wait_for(lambda: all_sent(rows), what="the cancel notifications to be sent")

    row = rows.get(channel=NotificationChannel.WEBHOOK)
    assert partner.refused == []
    assert len(partner.accepted) == 1
    delivered = partner.accepted[0]
    assert delivered["headers"]["X-Casetracker-Delivery"] == row.idempotency_key
    assert delivered["json"]["type"] == "batch.cancel"
    assert delivered["json"]["cases"] == [patient.case_reference]

    captured_headers, body = partner.raw[0]
    headers = {k: v for k, v in captured_headers.items() if k.startswith("X-Casetracker-")}
    headers["Content-Type"] = "application/json"

    # The very request again, as an eavesdropper would send it.
    assert _post(partner.url, headers, body) == 401
    # The same signature over a body pointing at another case.
    other_case = factories.PatientFactory().case_reference
    assert patient.case_reference.encode() in body
    altered = body.replace(patient.case_reference.encode(), other_case.encode())
    assert _post(partner.url, headers, altered) == 401
    # Correctly signed, but long ago: outside the receiver's tolerance.
    old = int(time.time()) - partner.tolerance - 60
    signed = f"{old}.".encode() + body
    stale = {
        **headers,
        "X-Casetracker-Timestamp": str(old),
        "X-Casetracker-Signature": "v1="
        + hmac.new(PARTNER_SECRET.encode(), signed, hashlib.sha256).hexdigest(),
        "X-Casetracker-Delivery": "another-delivery",
    }
    assert _post(partner.url, stale, body) == 401

    assert partner.refused == ["replayed delivery", "bad signature", "stale timestamp"]
    assert len(partner.accepted) == 1


DELIVERY_TASKS = {
    "deliver_notification",
    "deliver_sms_notification",
    "deliver_webhook_notification",
}
SENTINELS = (
    "SENTINEL-NAME-7731",
    "SENTINEL-AR-7731",
    "999777311",
    "SENTINEL-DIAG-7731",
    "SENTINEL-FAC-7731",
    "SENTINEL-FAC-AR-7731",
    "sentinel-fac-7731",
    "SENTINEL-REASON-7731",
)


def _leaks(data: bytes | str) -> list[str]:
    text = data if isinstance(data, str) else data.decode("utf-8", "replace")
    return [s for s in SENTINELS if s.lower() in text.lower()]


def _broker_dump(client) -> list[bytes]:
    """Every value stored in the broker, whatever its type."""
    values = []
    for key in client.scan_iter():
        kind = client.type(key).decode()
        if kind == "string":
            values.append(client.get(key))
        elif kind == "list":
            values += client.lrange(key, 0, -1)
        elif kind == "hash":
            values += [k + b"=" + v for k, v in client.hgetall(key).items()]
        elif kind == "set":
            values += list(client.smembers(key))
        elif kind == "zset":
            values += client.zrange(key, 0, -1)
        values.append(key)
    return values


def test_notification_faults_no_personal_data_in_broker_sms_or_webhooks(
    require_postgres,
    require_redis,
    broker,
    sms_provider,
    partner,
    batch_for,
    coordinator,
    api,
    tmp_path,
):
    staging = factories.FacilityFactory(
        code="sentinel-fac-7731",
        name_en="SENTINEL-FAC-7731 Hospital",
        name_ar="مستشفى SENTINEL-FAC-AR-7731",
        kind="staging",
    )
    batch, patient = batch_for(
        staging=staging,
        name_latin="SENTINEL-NAME-7731",
        name_arabic="مريضة SENTINEL-AR-7731",
        national_id="999777311",
        diagnosis="SENTINEL-DIAG-7731 metastatic",
    )
    with producer_on(celery_app, broker.url()):
        response = api(coordinator).post(
            f"/api/v1/batches/{batch.code}/cancel/",
            {**CANCEL, "reason_text": "SENTINEL-REASON-7731: the crossing closed"},
            format="json",
        )
    assert response.status_code == 200, response.content
    rows = cancel_rows(batch)
    assert {"sms", "webhook"} <= set(rows.values_list("channel", flat=True))

    # No worker yet: the tasks sit in the queue as the broker stores them.
    client = broker.client()
    queued = queued_messages(client)
    assert len(queued) == rows.count()
    task_ids = []
    for raw in queued:
        message = json.loads(raw)
        assert message["properties"]["body_encoding"] == "base64"
        body = base64.b64decode(message["body"])
        assert _leaks(raw) == [] and _leaks(body) == [], raw
        args, kwargs, _ = json.loads(body)
        assert message["headers"]["task"].rsplit(".", 1)[1] in DELIVERY_TASKS
        # The row id and the number of attempts made so far: two integers, nothing else.
        assert kwargs == {} and args == [args[0], 0] and type(args[0]) is int, args
        task_ids.append(args[0])
    assert sorted(task_ids) == sorted(rows.values_list("pk", flat=True))
    assert [v for v in _broker_dump(client) if _leaks(v)] == []

    with worker_process(**worker_options(broker, sms_provider, tmp_path)) as worker:
        wait_on(worker, lambda: all_sent(rows), "every cancel notification to be sent")

    assert len(sms_provider.requests) == 1
    sms = sms_provider.requests[0]
    assert _leaks(json.dumps(sms, ensure_ascii=False)) == []
    assert patient.case_reference in sms["json"]["text"]
    assert batch.code in sms["json"]["text"]
    assert len(partner.raw) == 1 and partner.refused == []
    headers, body = partner.raw[0]
    assert _leaks(json.dumps(headers)) == [] and _leaks(body) == []
    assert patient.case_reference.encode() in body and batch.code.encode() in body
