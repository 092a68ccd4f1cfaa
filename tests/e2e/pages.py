"""The pages the Content-Security-Policy checks walk, shared by the browser test
(tests/e2e/test_csp_browser.py) and the fast test without a browser (tests/test_csp.py).

The data is the "known numbers" scenario (tests/batches/scenario.py): exit and return batches,
a cancelled batch, a patient sent back twice, a death, notifications, so that every table,
chart and inbox entry is drawn."""

from dataclasses import dataclass
from urllib.parse import urlencode

from django.urls import reverse

from batches.reports.tables import REPORTS
from casetracker.notifications.models import Notification, NotificationStatus
from patients.models import Referral
from tests.batches.scenario import Scenario, build_scenario


@dataclass(frozen=True)
class Visit:
    name: str  # the screenshot's file name
    url: str
    # Shown once the page's own scripts have drawn it (Swagger UI, Redoc, select2).
    ready: str | None = None
    # Opens the select2 autocomplete of this field and waits for its answer.
    autocomplete: str | None = None
    # Types this into Redoc's search box and waits for a hit (its search runs in a worker).
    search: str | None = None
    # Sources the CSP adds on this page only, beyond the site's policy (casetracker/urls.py).
    relaxed: tuple[tuple[str, tuple[str, ...]], ...] = ()


def build_site(*, coordinator, facility) -> Scenario:
    scenario = build_scenario(coordinator=coordinator, facility=facility)
    # One failed delivery: coordinators and admins then see the alert and the table of them.
    first = Notification.objects.filter(channel="email").order_by("pk").first()
    Notification.objects.filter(pk=first.pk).update(
        status=NotificationStatus.FAILED, attempts=6, last_error="mail server refused"
    )
    return scenario


def _change(model: str, obj) -> str:
    return reverse(f"admin:{model}_change", args=[obj.pk])


def audit_pages(s: Scenario) -> list[Visit]:
    cancelled, bumped = s.batch("d3_exit"), s.patient("B")
    return [
        Visit("audit-index", reverse("reports:index")),
        Visit("audit-overview", reverse("reports:overview")),
        *(
            Visit(f"audit-report-{name}", reverse("reports:report", args=[name]))
            for name in REPORTS
        ),
        Visit("audit-batch", reverse("reports:batch", args=[cancelled.code])),
        Visit("audit-patient", reverse("reports:patient", args=[bumped.case_reference])),
    ]


def api_doc_pages() -> list[Visit]:
    return [
        Visit("api-docs", reverse("api-docs"), ready=".swagger-ui .opblock"),
        Visit(
            "api-redoc",
            reverse("api-redoc"),
            ready=".menu-content [role=menuitem]",
            search="batch",
            relaxed=(("worker-src", ("'self'", "blob:")),),
        ),
    ]


def admin_pages(s: Scenario) -> list[Visit]:
    """What an administrator sees: the site, every audit page, the back office, the API docs."""
    referral = Referral.objects.filter(patient=s.patient("B")).order_by("pk").first()
    return [
        Visit("home", reverse("home")),
        Visit("inbox", reverse("notifications:inbox")),
        *audit_pages(s),
        Visit("admin-index", reverse("admin:index")),
        Visit("admin-patients", reverse("admin:patients_patient_changelist")),
        Visit("admin-patient-find", reverse("admin:patients_patient_find")),
        Visit("admin-batches", reverse("admin:batches_batch_changelist")),
        Visit("admin-events", reverse("admin:audit_event_changelist")),
        Visit("admin-patient", _change("patients_patient", s.patient("B"))),
        Visit("admin-batch", _change("batches_batch", s.batch("d3_exit"))),
        # Issued referrals and manifest lines are documents: their autocomplete fields are
        # read-only once saved, so the select2 dropdowns are opened on the add forms.
        Visit("admin-referral", _change("patients_referral", referral)),
        Visit(
            "admin-referral-add", reverse("admin:patients_referral_add"), autocomplete="id_patient"
        ),
        Visit(
            "admin-member-add", reverse("admin:batches_batchmember_add"), autocomplete="id_batch"
        ),
        Visit("api-browsable", reverse("batch-list") + "?format=api"),
        *api_doc_pages(),
        # Last: opening the set-up page starts an enrolment (its QR code is an inline SVG).
        Visit("two-factor-backup-codes", reverse("account:backup-codes")),
        Visit("two-factor-setup", reverse("account:setup")),
    ]


def field_pages(s: Scenario) -> list[Visit]:
    """The coordinators' field pages, with a crossed, a cancelled and an open batch."""
    cancelled, crossed, patient = s.batch("d3_exit"), s.batch("d1_exit"), s.patient("B")
    builder = (
        reverse("batches:builder")
        + "?"
        + urlencode(
            {
                "crossing": "rafah",
                "direction": "exit",
                "date": s.today.isoformat(),
                "staging_facility": s.facility.code,
            }
        )
    )
    return [
        Visit("field-today", reverse("batches:today")),
        Visit("field-queue", reverse("patients:queue")),
        Visit("field-returnees", reverse("patients:returnees")),
        Visit("field-builder", builder),
        Visit("field-batch-crossed", reverse("batches:detail", args=[crossed.code])),
        Visit("field-batch-cancelled", reverse("batches:detail", args=[cancelled.code])),
        Visit(
            "field-reschedule", reverse("batches:transition", args=[cancelled.code, "reschedule"])
        ),
        Visit("field-statement", reverse("batches:statement", args=[cancelled.code])),
        Visit("field-patient", reverse("patients:detail", args=[patient.case_reference])),
        Visit("field-register", reverse("patients:register")),
        Visit("field-import-cases", reverse("patients:import-cases")),
        Visit("field-readiness", reverse("patients:ward")),
    ]


def nurse_pages(s: Scenario) -> list[Visit]:
    """A nurse of the staging facility: readiness, a patient, a batch staged there."""
    return [
        Visit("nurse-ward", reverse("patients:ward")),
        Visit("nurse-patient", reverse("patients:detail", args=[s.patient("B").case_reference])),
        Visit("nurse-batch", reverse("batches:detail", args=[s.batch("d1_exit").code])),
        Visit("nurse-queue", reverse("patients:queue")),
    ]


def coordinator_pages(s: Scenario) -> list[Visit]:
    """A coordinator's day: the field pages, the inbox with the undelivered alert, the batch
    forms of the back office, the docs."""
    cancelled = s.batch("d3_exit")
    reschedule = reverse("admin:batches_batch_transition", args=[cancelled.pk, "reschedule"])
    return [
        *field_pages(s),
        Visit("coordinator-home", reverse("home")),
        Visit("coordinator-inbox", reverse("notifications:inbox")),
        Visit("coordinator-admin-index", reverse("admin:index")),
        Visit("coordinator-batches", reverse("admin:batches_batch_changelist")),
        Visit("coordinator-batch", _change("batches_batch", cancelled)),
        Visit("coordinator-reschedule", reschedule),
        Visit("coordinator-batch-add", reverse("admin:batches_batch_add")),
        Visit(
            "coordinator-member-add",
            reverse("admin:batches_batchmember_add"),
            autocomplete="id_patient",
        ),
    ]


def anonymous_pages() -> list[Visit]:
    return [Visit("sign-in", reverse("admin:login"))]
