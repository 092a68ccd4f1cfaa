"""The auditors' pages: cancellation history, batch timelines, patient journeys and reports.
Read-only, in English and Arabic; every table can be downloaded (and the download is logged).
Who may open them is said by the route policy table (`casetracker/accounts/policy.py`)."""

from urllib.parse import urlencode

from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from casetracker.audit.models import Action
from casetracker.audit.vocabulary import state_label
from patients.access import Category, log_access
from patients.models import Patient

from ..models import Batch, Direction
from . import selectors
from .charts import Series, bar_chart, line_chart
from .forms import PeriodForm
from .tables import REPORTS, run_report

# The tables shown (with charts) on the reports page, in order.
OVERVIEW = ("daily", "cancellation-rate", "cancellation-reasons", "referral-to-crossing", "deaths")


def _download_links(request) -> dict[str, str]:
    query = request.GET.copy()
    links = {}
    for fmt in ("csv", "xlsx"):
        query["download"] = fmt
        links[fmt] = "?" + query.urlencode()
    return links


def index(request):
    return redirect("reports:cancellations")


SORTABLE = ("code", "planned_date", "cancelled_at", "reason_code", "source", "patients")


def _sort_links(request, current: str) -> dict[str, str]:
    """For each sortable column, the link that sorts by it (again: the other way round)."""
    query = request.GET.copy()
    query.pop("download", None)
    links = {}
    for key in (*SORTABLE, "lead_hours"):
        query["order"] = f"-{key}" if current == key else key
        links[key] = "?" + query.urlencode()
    return links


def cancellations(request):
    form, rows, download = run_report(REPORTS["cancellations"], request.GET, request.user)
    if download:
        return download
    order = form.cleaned_data.get("order", "") if rows is not None else ""
    return render(
        request,
        "reports/cancellations.html",
        {
            "form": form,
            "rows": rows,
            "downloads": _download_links(request),
            "sort": _sort_links(request, order),
            "section": "cancellations",
        },
    )


def report(request, name: str):
    if name not in REPORTS:
        raise Http404
    form, rows, download = run_report(REPORTS[name], request.GET, request.user)
    if download:
        return download
    return render(
        request,
        "reports/table.html",
        {
            "report": REPORTS[name],
            "form": form,
            "rows": rows,
            "downloads": _download_links(request),
            "section": "bumped" if name == "bumped" else "overview",
        },
    )


def overview(request):
    form = PeriodForm(request.GET)
    if not form.is_valid():
        return render(
            request, "reports/overview.html", {"form": form, "sections": [], "section": "overview"}
        )
    rtl = request.LANGUAGE_CODE == "ar"
    query = urlencode({k: v for k, v in request.GET.items() if k != "download"})
    sections = []
    for name in OVERVIEW:
        report = REPORTS[name]
        rows = report.rows(request.user, form.cleaned_data)
        sections.append(
            {
                "report": report,
                "rows": rows,
                "charts": _charts(name, rows, rtl),
                "link": f"{name}/?{query}",
            }
        )
    return render(
        request,
        "reports/overview.html",
        {"form": form, "sections": sections, "section": "overview"},
    )


def _charts(name: str, rows: list[dict], rtl: bool) -> list:
    """The charts drawn above a report's table on the overview (none for single numbers)."""
    empty = _("No data")
    if name == "daily":
        return [
            _daily_chart(rows, Direction.EXIT, rtl, empty),
            _daily_chart(rows, Direction.RETURN, rtl, empty),
        ]
    if name == "cancellation-rate":
        return [
            line_chart(
                title=_("Cancelled batches (%) per week"),
                categories=[r["week_start"].strftime("%m-%d") for r in rows],
                series=[Series(_("cancelled (%)"), [r["rate"] for r in rows], "rate")],
                rtl=rtl,
                y_max=100,
                empty_text=empty,
            )
        ]
    if name == "cancellation-reasons":
        return [
            bar_chart(
                title=_("Cancellations per reason"),
                categories=[state_label(r["reason_code"]) for r in rows],
                series=[Series(_("cancelled"), [r["cancelled"] for r in rows], "cancelled")],
                rtl=rtl,
                empty_text=empty,
            )
        ]
    return []


def _daily_chart(rows: list[dict], direction: str, rtl: bool, empty: str):
    rows = [r for r in rows if r["direction"] == direction]
    failed = Series(_("turned back or held"), [r["held"] + r["turned_back"] for r in rows], "held")
    if direction == Direction.EXIT:
        title = _("Patients out: agreed and crossed")
        series = [
            Series(_("agreed patients"), [r["agreed_patients"] for r in rows], "agreed"),
            Series(_("patients crossed"), [r["patients_crossed"] for r in rows], "crossed"),
            Series(_("companions crossed"), [r["companions_crossed"] for r in rows], "companions"),
            failed,
        ]
    else:
        title = _("Returnees in: agreed, crossed and held")
        series = [
            Series(_("agreed returnees"), [r["agreed_returnees"] for r in rows], "agreed"),
            Series(_("returnees crossed"), [r["returnees_crossed"] for r in rows], "returnees"),
            failed,
        ]
    return bar_chart(
        title=title,
        categories=[r["date"].strftime("%m-%d") for r in rows],
        series=series,
        rtl=rtl,
        empty_text=empty,
    )


def batch_timeline(request, code: str):
    batch = get_object_or_404(Batch.objects.visible_to(request.user), code=code)
    events = selectors.batch_timeline(request.user, batch)
    cancel = next((e for e in events if e.action == Action.CANCEL), None)
    redaction = cancel.redaction if cancel is not None else None
    return render(
        request,
        "reports/batch_timeline.html",
        {
            "batch": batch,
            "events": events,
            "lines": selectors.batch_manifest(request.user, batch),
            # The cancellation as its chained event records it, not the batch's copies.
            "cancellation": selectors.cancellation_of(batch, cancel),
            # Where the cancel text was redacted, the redaction's sentence.
            "cancel_text_redaction": redaction.sentence() if redaction is not None else "",
        },
    )


def patient_journey(request, case_reference: str):
    patient = get_object_or_404(
        Patient.objects.visible_to(request.user), case_reference=case_reference
    )
    journey = selectors.patient_journey(request.user, patient)
    log_access(actor=request.user, category=Category.JOURNEY, subject=patient)
    return render(request, "reports/patient_journey.html", {"journey": journey})
