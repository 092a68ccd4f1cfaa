"""The reports as tables: their filters, columns and rows, shared by the pages, the API (JSON)
and the CSV/XLSX downloads, so the three always show the same numbers."""

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

from django.http import HttpResponse, QueryDict
from django.utils.translation import gettext_lazy as _

from casetracker.exports import Column, export_response

from ..models import DEFAULT_CROSSING
from . import selectors
from .forms import (
    CancellationFilterForm,
    DailyFilterForm,
    DownloadForm,
    PeriodForm,
    filters_of,
)


@dataclass(frozen=True)
class Report:
    name: str  # URL and file name
    title: str
    form: type[DownloadForm]
    columns: tuple[Column, ...]
    rows: Callable  # (user, cleaned data) -> list[dict]


def _cancellations(user, data) -> list[dict]:
    rows = selectors.cancellations(
        user,
        period=data["period"],
        crossing=data["crossing"],
        reason=data["reason"],
        source=data["source"],
        order=data["order"],
    )
    # Shallow: `asdict` deep-copies every list of every row, the dearest step of a year's
    # history. The rows are made for this answer and never changed after.
    names = [f.name for f in fields(selectors.CancellationRow)]
    return [{name: getattr(row, name) for name in names} for row in rows]


def _daily(user, data) -> list[dict]:
    # The overview runs it with the period alone: the default crossing, then.
    crossing = data.get("crossing") or DEFAULT_CROSSING
    rows = selectors.quota_vs_crossed(user, period=data["period"], crossing=crossing)
    return [asdict(row) | {"people_crossed": row.people_crossed} for row in rows]


def _weekly(user, data) -> list[dict]:
    weeks, _reasons = selectors.cancellation_rate(user, period=data["period"])
    return [asdict(week) | {"rate": week.rate} for week in weeks]


def _reasons(user, data) -> list[dict]:
    _weeks, reasons = selectors.cancellation_rate(user, period=data["period"])
    return [{"reason_code": code, "cancelled": count} for code, count in reasons.items()]


def _waits(user, data) -> list[dict]:
    period = data["period"]
    summary = selectors.referral_to_crossing(user, period=period)
    return [{"date_from": period.start, "date_to": period.end} | asdict(summary)]


def _deaths(user, data) -> list[dict]:
    return [asdict(row) for row in selectors.deaths_while_waiting(user, period=data["period"])]


def _bumped(user, data) -> list[dict]:
    return [asdict(row) for row in selectors.bumped_patients(user)]


def _columns(*pairs) -> tuple[Column, ...]:
    return tuple(Column(key, label) for key, label in pairs)


REPORTS = {
    report.name: report
    for report in (
        Report(
            "cancellations",
            _("Cancelled batches"),
            CancellationFilterForm,
            _columns(
                ("code", _("batch")),
                ("planned_date", _("planned date")),
                ("cancelled_at", _("cancelled at")),
                ("recorded_at", _("recorded at")),
                ("lead_hours", _("hours before the planned day")),
                ("cancelled_from", _("cancelled at stage")),
                ("reason_code", _("reason")),
                ("reason_text", _("what was said")),
                ("source", _("decided by")),
                ("relayed_by", _("relayed by (empty: directly)")),
                ("statements", _("said later about the cancellation")),
                ("recorded_by", _("recorded by")),
                ("recorded_by_role", _("role")),
                ("patients", _("patients")),
                ("companions", _("companions")),
                ("returnees", _("returnees")),
                ("rescheduled_as", _("rescheduled as")),
                ("rescheduled_for", _("rescheduled for")),
                ("crossed_later", _("crossed later")),
                ("last_crossed_on", _("last crossed on")),
                ("still_waiting", _("still waiting")),
                ("people", _("case references")),
            ),
            _cancellations,
        ),
        Report(
            "daily",
            _("Agreed quota and crossings per day"),
            DailyFilterForm,
            _columns(
                ("date", _("date")),
                ("direction", _("direction")),
                # Each direction in its own words: out, patients and companions; back in,
                # returnees (a return quota has no companions).
                ("agreed_patients", _("agreed patients (exit)")),
                ("agreed_companions", _("agreed companions (exit)")),
                ("agreed_returnees", _("agreed returnees (return)")),
                ("patients_crossed", _("patients crossed")),
                ("companions_crossed", _("companions crossed")),
                ("returnees_crossed", _("returnees crossed")),
                ("people_crossed", _("people crossed")),
                ("held", _("held")),
                ("turned_back", _("turned back")),
                ("no_show", _("no show")),
                (
                    "refused_at_vetting",
                    _(
                        "refused at vetting (people whose clearance was rejected, "
                        "cancelled batches included)"
                    ),
                ),
            ),
            _daily,
        ),
        Report(
            "cancellation-rate",
            _("Cancellation rate per week of planned day"),
            PeriodForm,
            _columns(
                ("week_start", _("week of")),
                ("decided", _("batches crossed or cancelled")),
                ("cancelled", _("cancelled")),
                ("rate", _("cancelled (%)")),
            ),
            _weekly,
        ),
        Report(
            "cancellation-reasons",
            _("Cancellations per reason (batches planned in the period)"),
            PeriodForm,
            _columns(("reason_code", _("reason")), ("cancelled", _("cancelled"))),
            _reasons,
        ),
        Report(
            "referral-to-crossing",
            _("Days from referral to crossing"),
            PeriodForm,
            _columns(
                ("date_from", _("from")),
                ("date_to", _("to")),
                ("patients", _("patients crossed")),
                ("median_days", _("median days")),
                ("shortest", _("shortest")),
                ("longest", _("longest")),
            ),
            _waits,
        ),
        Report(
            "deaths",
            _("Deaths while waiting"),
            PeriodForm,
            _columns(
                ("case_reference", _("case reference")),
                ("died_at", _("died at")),
                ("recorded_at", _("recorded at")),
                ("was", _("status before")),
                ("registered_at", _("registered at")),
                ("days_waited", _("days waited")),
            ),
            _deaths,
        ),
        Report(
            "bumped",
            _("Patients sent back twice or more"),
            DownloadForm,
            _columns(
                ("case_reference", _("case reference")),
                ("status", _("status")),
                ("priority", _("priority")),
                ("registered_at", _("registered at")),
                ("bumps", _("times sent back")),
                ("last_sent_back_on", _("last sent back on")),
            ),
            _bumped,
        ),
    )
}


def run_report(
    report: Report, query: QueryDict, user
) -> tuple[DownloadForm, list[dict] | None, HttpResponse | None]:
    """Validate the query, read the rows; with `download`, also the logged file. The pages
    and the API both run reports through here. Rows are None when the query is invalid."""
    data = query.copy()
    # Every filter is optional: missing ones take their defaults (the form then shows them).
    for name, field in report.form.base_fields.items():
        if name not in data and field.initial is not None:
            data[name] = field.initial
    form = report.form(data)
    if not form.is_valid():
        return form, None, None
    rows = report.rows(user, form.cleaned_data)
    fmt = form.cleaned_data.get("download")
    if not fmt:
        return form, rows, None
    download = export_response(
        user=user,
        name=report.name,
        columns=report.columns,
        rows=rows,
        fmt=fmt,
        filters=filters_of(form),
    )
    return form, rows, download
