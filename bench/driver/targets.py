"""What is measured: each endpoint of the application beside the bare view over the same tables
(bench/bare.py), with the URLs to ask, drawn from the seeded rows so that the clients do not
read one row over and over."""

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count
from django.utils import timezone

from batches.models import Batch, BatchStatus, Direction
from casetracker.audit.models import ACCESS_ACTIONS, Event
from casetracker.notifications.models import Notification
from patients.models import Patient, PatientStatus

SAMPLES = 200


@dataclass
class Target:
    name: str
    kind: str  # "list", "detail", "report" or "page"
    real: list[str]
    bare: list[str] = field(default_factory=list)
    # Who asks: the coordinator, or the auditor (the reports); by token, or signed in (pages).
    user: str = "coordinator"
    session: bool = False
    # A list whose page size the client chooses (`page_size`): its queries are counted at 10
    # and 100 rows.
    sized: bool = False


def _pages(path: str, pages: int) -> list[str]:
    joiner = "&" if "?" in path else "?"
    return [f"{path}{joiner}page={n}" for n in range(1, pages + 1)]


def targets() -> list[Target]:
    today = timezone.localdate()
    year = f"date_from={today - timedelta(days=364)}&date_to={today}"
    month = f"date_from={today - timedelta(days=27)}&date_to={today}"
    refs = list(Patient.objects.values_list("case_reference", flat=True).order_by("?")[:SAMPLES])
    queue_pages = max(
        1, min(10, Patient.objects.filter(status=PatientStatus.WAITING).count() // 50)
    )
    manifests = list(
        Batch.objects.filter(direction=Direction.EXIT, status=BatchStatus.CROSSED)
        .annotate(lines=Count("members"))
        .filter(lines__gte=10)
        .values_list("code", flat=True)
        .order_by("?")[:SAMPLES]
    )
    codes = list(Batch.objects.values_list("code", flat=True).order_by("?")[:SAMPLES])
    events = list(
        Event.objects.exclude(action__in=ACCESS_ACTIONS)
        .values_list("pk", flat=True)
        .order_by("?")[:SAMPLES]
    )
    notes = list(Notification.objects.values_list("pk", flat=True).order_by("?")[:SAMPLES])

    def pages(model) -> int:
        # Up to ten pages of 50 rows, as many as there are.
        return max(1, min(10, model.objects.count() // 50))

    return [
        Target(
            "patients: list",
            "list",
            _pages("/api/v1/patients/", pages(Patient)),
            _pages("/bench/bare/patients/", pages(Patient)),
            sized=True,
        ),
        Target(
            "patients: detail",
            "detail",
            [f"/api/v1/patients/{r}/" for r in refs],
            [f"/bench/bare/patients/{r}/" for r in refs],
        ),
        Target(
            "batches: list",
            "list",
            _pages("/api/v1/batches/", pages(Batch)),
            _pages("/bench/bare/batches/", pages(Batch)),
            sized=True,
        ),
        Target(
            "batches: detail",
            "detail",
            [f"/api/v1/batches/{c}/" for c in codes],
            [f"/bench/bare/batches/{c}/" for c in codes],
        ),
        Target(
            "manifest (batch members)",
            "list",
            [f"/api/v1/batches/{c}/members/" for c in manifests],
            [f"/bench/bare/batches/{c}/members/" for c in manifests],
            sized=True,
        ),
        Target("events: list", "list", ["/api/v1/events/"], ["/bench/bare/events/"], sized=True),
        Target(
            "events: detail",
            "detail",
            [f"/api/v1/events/{pk}/" for pk in events],
            [f"/bench/bare/events/{pk}/" for pk in events],
        ),
        Target(
            "notifications: list",
            "list",
            _pages("/api/v1/notifications/", pages(Notification)),
            _pages("/bench/bare/notifications/", pages(Notification)),
            sized=True,
        ),
        Target(
            "notifications: detail",
            "detail",
            [f"/api/v1/notifications/{pk}/" for pk in notes],
            [f"/bench/bare/notifications/{pk}/" for pk in notes],
        ),
        Target(
            "report: cancellation history, 365 days",
            "report",
            [f"/api/v1/reports/cancellations/?{year}"],
            [f"/bench/bare/cancellations/?{year}"],
            user="auditor",
        ),
        Target(
            "report: cancellation history, 28 days",
            "report",
            [f"/api/v1/reports/cancellations/?{month}"],
            [f"/bench/bare/cancellations/?{month}"],
            user="auditor",
        ),
        Target(
            "report: daily quota and crossings, 28 days",
            "report",
            [f"/api/v1/reports/daily/?{month}"],
            user="auditor",
        ),
        Target(
            "report: patients sent back twice or more",
            "report",
            ["/api/v1/reports/bumped/"],
            user="auditor",
        ),
        Target(
            "page: queue",
            "page",
            _pages("/queue/", queue_pages),
            _pages("/bench/bare/queue/", queue_pages),
            session=True,
        ),
        Target(
            "page: batch",
            "page",
            [f"/batches/{c}/" for c in manifests],
            [f"/bench/bare/batch-page/{c}/" for c in manifests],
            session=True,
        ),
        Target("page: today", "page", ["/today/"], ["/bench/bare/today/"], session=True),
        Target(
            "page: patient",
            "page",
            [f"/patients/{r}/" for r in refs],
            [f"/bench/bare/patients/{r}/" for r in refs],
            session=True,
        ),
        Target("page: inbox", "page", ["/inbox/"], ["/bench/bare/notifications/"], session=True),
    ]
