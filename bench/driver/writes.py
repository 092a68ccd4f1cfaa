"""The write the issue times: a batch of 50 patients with 100 companions, made and prepared
through the API, then cancelled; how long the cancel takes to commit, and how long until the
worker has delivered every notification it wrote (read from the outbox table)."""

import json
import time
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from batches.models import Batch, CrossingQuota, Direction
from casetracker.notifications.models import Notification, NotificationStatus, WebhookSubscription
from patients.models import Patient, PatientStatus, Referral

from .load import Client

PATIENTS, COMPANIONS = 50, 2


def candidates(day) -> list[tuple[str, list[int]]]:
    """Waiting adults, ready, with an approved referral valid on `day` and two companions."""
    adult = timezone.localdate() - timedelta(days=365 * settings.ADULT_AGE + 5)
    valid = Referral.objects.valid_on(day).values("patient_id")
    patients = (
        Patient.objects.filter(status=PatientStatus.WAITING, date_of_birth__lt=adult)
        .filter(pk__in=valid)
        .filter(
            readiness__fit_to_travel=True,
            readiness__documents_ready=True,
            readiness__transport_confirmed=True,
            readiness__companions_present=True,
        )
        .annotate(theirs=Count("companions"))
        .filter(theirs__gte=COMPANIONS)
        .order_by("registered_at")[:PATIENTS]
    )
    chosen = []
    for patient in patients.prefetch_related("companions"):
        companions = sorted(c.pk for c in patient.companions.all())[:COMPANIONS]
        chosen.append((patient.case_reference, companions))
    return chosen


def free_day():
    """The first day from a month ahead with no Rafah exit batch or quota yet."""
    day = timezone.localdate() + timedelta(days=30)
    taken = Q(crossing="rafah", direction=Direction.EXIT)
    while (
        Batch.objects.filter(taken, planned_date=day).exists()
        or CrossingQuota.objects.filter(taken, date=day).exists()
    ):
        day += timedelta(days=1)
    return day


def subscribe_receiver(port: int) -> None:
    WebhookSubscription.objects.update_or_create(
        name="benchmark receiver",
        defaults={
            "url": f"http://127.0.0.1:{port}/hook",
            "event_types": ["batch.cancel"],
            "is_active": True,
        },
    )


def _post(client: Client, path: str, body: dict) -> tuple[int, dict, float]:
    began = time.perf_counter()
    status, raw = client.post(path, body)
    return status, json.loads(raw or b"{}"), (time.perf_counter() - began) * 1000


def prepare_and_cancel(client: Client, *, timeout: float = 120) -> dict:
    day = free_day()
    people = candidates(day)
    if len(people) < PATIENTS:
        return {"skipped": f"only {len(people)} patients are ready with two companions"}
    quota = {"crossing": "rafah", "date": day.isoformat(), "direction": "exit"}
    quota |= {"agreed_patients": PATIENTS, "agreed_companions": PATIENTS * COMPANIONS}
    status, _answer, _ms = _post(client, "/api/v1/quotas/", {**quota, "source": "who"})
    body = {"direction": "exit", "planned_date": day.isoformat(), "staging_facility": "al-amal"}
    status, batch, create_ms = _post(client, "/api/v1/batches/", {**body, "crossing": "rafah"})
    if status != 201:
        return {"failed": f"creating the batch answered {status}: {batch}"}
    code = batch["code"]
    added = []
    for reference, companions in people:
        path = f"/api/v1/batches/{code}/members/"
        status, answer, ms = _post(client, path, {"patient": reference, "companions": companions})
        if status != 201:
            return {"failed": f"adding {reference} answered {status}: {answer}"}
        added.append(ms)
    status, answer, prepare_ms = _post(client, f"/api/v1/batches/{code}/prepare/", {})
    if status != 200:
        return {"failed": f"prepare answered {status}: {answer}"}
    cancel = {"reason_code": "no_reason_given", "reason_text": "Benchmark cancellation."}
    cancelled_at = time.perf_counter()
    status, answer, cancel_ms = _post(
        client, f"/api/v1/batches/{code}/cancel/", {**cancel, "source": "border_authority"}
    )
    if status != 200:
        return {"failed": f"cancel answered {status}: {answer}"}
    outbox = Notification.objects.filter(event__batch_ref=code, event__action="cancel")
    waiting = outbox
    while time.perf_counter() - cancelled_at < timeout:
        waiting = outbox.filter(status=NotificationStatus.PENDING)
        if not waiting.exists():
            break
        time.sleep(0.02)
    delivered_s = time.perf_counter() - cancelled_at
    channels = dict(outbox.values_list("channel").annotate(n=Count("pk")).order_by())
    return {
        "batch": code,
        "patients": PATIENTS,
        "companions": PATIENTS * COMPANIONS,
        "create_ms": round(create_ms, 1),
        "add_patient_median_ms": round(sorted(added)[len(added) // 2], 1),
        "prepare_ms": round(prepare_ms, 1),
        "cancel_ms": round(cancel_ms, 1),
        "notifications": channels,
        "failed": outbox.filter(status=NotificationStatus.FAILED).count(),
        "still_pending": waiting.count(),
        "all_sent_s": round(delivered_s, 2),
    }
