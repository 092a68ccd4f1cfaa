"""The auditors' pages under /audit/: who may read them, what the cancellation history, the batch
timeline, the patient journey and the reports show, their filters and errors, the Arabic pages,
the page downloads (logged, neutralised) and the cost in queries.

Data is built through the services (batches/services, patients/services); the helpers below are
shared with test_reports_api.py."""

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from unittest import mock
from urllib.parse import quote

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from batches.models import Batch
from batches.reports.tables import REPORTS
from batches.services import (
    batch_add_patient,
    batch_cancel,
    batch_create,
    batch_reschedule,
)
from casetracker.audit.models import Event
from casetracker.exports import FORMATS
from patients.services import patient_set_status
from tests import factories
from tests.service_helpers import advance

pytestmark = pytest.mark.django_db

FORMULAS = [
    '=HYPERLINK("http://evil.example","x")',
    "@SUM(A1:A9)",
    "+1+1",
    "-2+3",
]


# --- Building data through the services ------------------------------------------------------


def exit_batch(coordinator, facility, patients=(), *, planned_date=None, companions=0) -> Batch:
    """A draft exit batch with `patients`, each with `companions` new companions."""
    batch = batch_create(
        actor=coordinator,
        direction="exit",
        planned_date=planned_date or timezone.localdate(),
        staging_facility=facility,
    )
    for patient in patients:
        batch_add_patient(
            batch=batch,
            patient=patient,
            companions=[factories.CompanionFactory(patient=patient) for _ in range(companions)],
            actor=coordinator,
        )
    return batch


def cancel(batch, coordinator, *, reason="security", source="border_authority", text="closed"):
    return batch_cancel(
        batch=batch, actor=coordinator, reason_code=reason, reason_text=text, source=source
    )


def cancelled_batch(coordinator, facility, patients=(), *, companions=0, **why) -> Batch:
    """A batch with `patients` (each with `companions`) cancelled now, from draft."""
    batch = exit_batch(coordinator, facility, patients, companions=companions)
    return cancel(batch, coordinator, **why)


def cancelled_days_ago(days: int, coordinator, facility, patients=(), **why) -> Batch:
    """A batch planned for that day and cancelled `days` days ago (the clock is set back)."""
    then = timezone.now() - dt.timedelta(days=days)
    batch = exit_batch(coordinator, facility, patients, planned_date=timezone.localdate(then))
    with mock.patch("django.utils.timezone.now", return_value=then):
        return cancel(batch, coordinator, **why)


def sent_back_twice(coordinator, facility, patient) -> tuple[Batch, Batch]:
    """`patient` placed in two batches, both cancelled: two bumps."""
    first = cancelled_batch(coordinator, facility, [patient], reason="weather", source="who")
    second = cancelled_batch(coordinator, facility, [patient], reason="logistics")
    return first, second


@dataclass
class World:
    """One row or more for every report: two cancelled batches (which bump patient `bumped`
    twice), a batch that crossed (`crossed`, patient `traveller`) and a death."""

    cancelled: list[Batch]
    crossed: Batch
    bumped: object
    traveller: object
    deceased: object
    extra: dict = field(default_factory=dict)


def build_world(coordinator, facility, ready_patient) -> World:
    bumped = ready_patient()
    cancelled = list(sent_back_twice(coordinator, facility, bumped))
    traveller = ready_patient()
    crossed = advance(exit_batch(coordinator, facility, [traveller]), "crossed", coordinator)
    deceased = ready_patient()
    patient_set_status(patient=deceased, status="deceased", actor=coordinator, reason_text="x")
    return World(cancelled, crossed, bumped, traveller, deceased)


@pytest.fixture
def world(coordinator, facility, ready_patient, quota) -> World:
    return build_world(coordinator, facility, ready_patient)


# --- Reading pages and files -----------------------------------------------------------------


@dataclass
class Cell:
    text: str = ""
    links: list[str] = field(default_factory=list)


class _TableParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables: list[list[list[Cell]]] = []
        self._cell: Cell | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables:
            self._cell = Cell()
            self.tables[-1][-1].append(self._cell)
        elif tag == "a" and self._cell is not None:
            self._cell.links.append(dict(attrs)["href"])

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._cell.text = " ".join(self._cell.text.split())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.text += data


def tables(response) -> list[list[list[Cell]]]:
    """Every table of the page: rows of cells (text with blanks collapsed, and links)."""
    parser = _TableParser()
    parser.feed(response.content.decode())
    return parser.tables


def texts(rows: list[list[Cell]]) -> list[list[str]]:
    return [[cell.text for cell in row] for row in rows]


def body_rows(table: list[list[Cell]]) -> list[list[Cell]]:
    """The rows after the header row."""
    return table[1:]


def csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(content[3:].decode(), newline="")))


def xlsx_sheet(content: bytes):
    return openpyxl.load_workbook(io.BytesIO(content)).active


def file_rows(content: bytes, fmt: str) -> list[list]:
    """Header and data rows of a downloaded file, as read back ("" for an empty XLSX cell)."""
    if fmt == "csv":
        return csv_rows(content)
    sheet = xlsx_sheet(content)
    return [["" if c.value is None else c.value for c in row] for row in sheet.iter_rows()]


def assert_no_live_formula(content: bytes, fmt: str) -> None:
    """No formula cell, and no text a spreadsheet would run (= + @ first, or - not a number)."""
    if fmt == "xlsx":
        cells = [c for row in xlsx_sheet(content).iter_rows() for c in row]
        assert [c.coordinate for c in cells if c.data_type == "f"] == []
        values = [c.value for c in cells if isinstance(c.value, str)]
    else:
        values = [value for row in csv_rows(content) for value in row]
    for value in values:
        assert not value.startswith(("=", "+", "@", "\t", "\r")), value
        if value.startswith("-"):
            float(value)  # a negative number (CSV holds numbers as text); anything else fails


def new_events(before: int) -> list[Event]:
    return list(Event.objects.filter(pk__gt=before).order_by("pk"))


def last_event_id() -> int:
    return Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def assert_logged_export(response, *, name, fmt, user, before) -> list[list]:
    """The response is the named file, and exactly one export event was written for it by
    `user`, counting the file's data rows. Returns the file's rows (header first)."""
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == FORMATS[fmt][0]
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="{name}-{today}.{fmt}"'
    assert "no-store" in response["Cache-Control"]
    rows = file_rows(response.content, fmt)
    assert rows[0] == [str(c.label) for c in REPORTS[name].columns]
    data = rows[1:]
    events = new_events(before)
    assert [(e.subject_type, e.subject_ref, e.action, e.actor_id) for e in events] == [
        ("report", name, "export", user.pk)
    ]
    assert events[0].details["format"] == fmt
    assert events[0].details["rows"] == len(data)
    return rows


# --- Who may read the pages ------------------------------------------------------------------


def page_urls(world: World) -> list[str]:
    batch = world.cancelled[0]
    return [
        reverse("reports:cancellations"),
        reverse("reports:overview"),
        *(reverse("reports:report", args=[name]) for name in REPORTS),
        reverse("reports:batch", args=[batch.code]),
        reverse("reports:patient", args=[world.bumped.case_reference]),
    ]


@pytest.fixture
def login(client):
    def as_user(user):
        client.force_login(user)
        return client

    return as_user


@pytest.fixture
def auditor_in_arabic(auditor):
    """The auditor reads the pages in Arabic (their own language decides it)."""
    auditor.preferred_language = "ar"
    auditor.save()


@pytest.mark.parametrize("who", ["auditor", "admin_user"])
def test_pages_open_to_auditors_and_admins(request, who, world, login):
    client = login(request.getfixturevalue(who))
    for url in page_urls(world):
        response = client.get(url)
        assert response.status_code == 200, url
    assert client.get(reverse("reports:index")).url == reverse("reports:cancellations")


@pytest.mark.parametrize("who", ["coordinator", "nurse"])
def test_pages_refused_to_coordinators_and_hospital_staff(request, who, world, login):
    client = login(request.getfixturevalue(who))
    urls = [*page_urls(world), reverse("reports:index")]
    assert {url: client.get(url).status_code for url in urls} == dict.fromkeys(urls, 403)


def test_pages_send_anonymous_visitors_to_the_login(client, world):
    for url in [*page_urls(world), reverse("reports:index")]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url == f"{reverse('admin:login')}?next={quote(url)}"


@pytest.mark.parametrize("who", ["auditor", "admin_user"])
def test_pages_of_unknown_batch_or_patient_are_404(request, who, login):
    client = login(request.getfixturevalue(who))
    assert client.get(reverse("reports:batch", args=["RAF-1999-01-01-9"])).status_code == 404
    assert client.get(reverse("reports:patient", args=["EV-NOPE99"])).status_code == 404
    assert client.get(reverse("reports:report", args=["nope"])).status_code == 404


# --- Cancellation history --------------------------------------------------------------------


def cancellation_rows(response) -> list[list[Cell]]:
    assert response.status_code == 200
    (table,) = tables(response)
    return [row for row in body_rows(table) if len(row) > 1]


def codes_listed(response) -> list[str]:
    return [row[0].text for row in cancellation_rows(response)]


def test_cancellations_lists_a_batch_cancelled_today(
    auditor, coordinator, facility, ready_patient, login
):
    alone, accompanied = ready_patient(), ready_patient()
    batch = exit_batch(coordinator, facility, [alone])
    batch_add_patient(
        batch=batch,
        patient=accompanied,
        companions=[factories.CompanionFactory(patient=accompanied)],
        actor=coordinator,
    )
    batch = cancel(
        batch, coordinator, reason="weather", source="red_crescent", text="storm at the gate"
    )

    response = login(auditor).get(reverse("reports:cancellations"))
    recorded_at = Event.objects.get(subject_ref=batch.code, action="cancel").created_at

    (row,) = cancellation_rows(response)
    assert [cell.text for cell in row[:12]] == [
        batch.code,
        batch.planned_date.isoformat(),
        timezone.localtime(batch.cancelled_at).strftime("%Y-%m-%d %H:%M"),
        "draft",
        "weather",
        "storm at the gate",
        "Red Crescent",
        "—",  # nothing said later
        # Who recorded it, and when (here: as it happened).
        f"coordinator (coordinator) on {timezone.localtime(recorded_at):%Y-%m-%d %H:%M}",
        "2",
        "1",
        "on the day",
    ]
    assert row[0].links == [reverse("reports:batch", args=[batch.code])]
    assert row[13].text.startswith("0 crossed later, 2 still waiting")
    assert row[13].links == [
        reverse("reports:patient", args=[p.case_reference]) for p in (alone, accompanied)
    ]


def test_cancellations_leave_out_a_batch_cancelled_10_days_ago_unless_asked(
    auditor, coordinator, facility, today, login
):
    recent = cancelled_batch(coordinator, facility)
    old = cancelled_days_ago(10, coordinator, facility)
    client = login(auditor)

    assert codes_listed(client.get(reverse("reports:cancellations"))) == [recent.code]
    eleven_days = {"date_from": (today - dt.timedelta(days=11)).isoformat()}
    listed = codes_listed(client.get(reverse("reports:cancellations"), eleven_days))
    assert listed == [recent.code, old.code]
    only_old = {**eleven_days, "date_to": (today - dt.timedelta(days=9)).isoformat()}
    assert codes_listed(client.get(reverse("reports:cancellations"), only_old)) == [old.code]


def test_cancellations_say_so_when_none_was_cancelled(auditor, login):
    response = login(auditor).get(reverse("reports:cancellations"))
    (table,) = tables(response)
    assert texts(body_rows(table)) == [["No batch was cancelled in this period."]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"reason": "weather"}, ["storm"]),
        ({"reason": "security"}, ["closed"]),
        ({"reason": "medical"}, []),
        ({"source": "who"}, ["closed"]),
        ({"source": "red_crescent"}, ["storm"]),
        ({"source": "who", "reason": "weather"}, []),
        ({"crossing": "rafah"}, ["storm", "closed"]),
    ],
)
def test_cancellations_filter_by_reason_and_source(
    params, expected, auditor, coordinator, facility, login
):
    storm = cancelled_batch(coordinator, facility, reason="weather", source="red_crescent")
    closed = cancelled_batch(coordinator, facility, reason="security", source="who")
    names = {storm.code: "storm", closed.code: "closed"}

    response = login(auditor).get(reverse("reports:cancellations"), params)

    assert sorted(names[code] for code in codes_listed(response)) == sorted(expected)


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("", ["second", "first"]),  # newest first by default
        ("cancelled_at", ["first", "second"]),
        ("-cancelled_at", ["second", "first"]),
        ("reason_code", ["second", "first"]),  # logistics < weather
        ("-reason_code", ["first", "second"]),
        ("code", ["first", "second"]),
        ("-code", ["second", "first"]),
        ("patients", ["second", "first"]),  # 1 < 2
        ("-patients", ["first", "second"]),
    ],
)
def test_cancellations_order_changes_the_order(
    order, expected, auditor, coordinator, facility, ready_patient, login
):
    first = cancelled_batch(
        coordinator, facility, [ready_patient(), ready_patient()], reason="weather"
    )
    second = cancelled_batch(coordinator, facility, [ready_patient()], reason="logistics")
    names = {first.code: "first", second.code: "second"}

    params = {"order": order} if order else {}
    response = login(auditor).get(reverse("reports:cancellations"), params)

    assert [names[code] for code in codes_listed(response)] == expected


def test_cancellations_sort_links_reverse_the_current_order(auditor, login):
    response = login(auditor).get(reverse("reports:cancellations"), {"order": "code"})
    (table,) = tables(response)
    header = {cell.text: cell.links for cell in table[0]}
    assert header["Batch"] == ["?order=-code"]
    assert header["Reason"] == ["?order=reason_code"]


def test_cancellations_order_select_shows_the_order_in_use(auditor, login):
    """Without `order` the rows are newest first; the form must say so, or pressing "Show"
    to change the dates silently re-sorts the table by the first option."""
    response = login(auditor).get(reverse("reports:cancellations"))
    select = re.search(r'<select name="order"[^>]*>.*?</select>', response.content.decode(), re.S)
    assert select, "no order field"
    assert re.search(r'<option value="-cancelled_at"[^>]*selected', select.group(0)), select.group(
        0
    )


def field_error(response, name: str) -> str:
    """The error shown beside the field `name` ("" if none)."""
    html = response.content.decode()
    found = re.search(rf'name="{name}"[^>]*>\s*<span class="errorlist">([^<]*)</span>', html)
    return found.group(1) if found else ""


@pytest.mark.parametrize("page", ["reports:cancellations", "reports:overview", "daily"])
def test_pages_show_an_invalid_date_beside_its_field(page, auditor, login, world):
    url = reverse("reports:report", args=[page]) if ":" not in page else reverse(page)

    response = login(auditor).get(url, {"date_from": "2026-13-01"})

    assert response.status_code == 200
    assert field_error(response, "date_from") == "Enter a valid date."
    assert field_error(response, "date_to") == ""
    assert "<svg" not in response.content.decode()
    assert tables(response) == []  # no rows for a period that does not exist


def test_pages_refuse_an_end_before_the_start(auditor, login, world, today):
    params = {"date_from": today.isoformat(), "date_to": (today - dt.timedelta(days=1)).isoformat()}

    response = login(auditor).get(reverse("reports:cancellations"), params)

    assert response.status_code == 200
    assert field_error(response, "date_to") == "must be on or after the start date"
    assert field_error(response, "date_from") == ""
    assert tables(response) == []


def test_pages_refuse_a_period_over_366_days(auditor, login, today):
    params = {"date_from": (today - dt.timedelta(days=400)).isoformat()}
    response = login(auditor).get(reverse("reports:overview"), params)
    assert field_error(response, "date_from") == "a report covers at most 366 days"


def test_pages_refuse_an_unknown_download_format(auditor, login):
    before = last_event_id()
    response = login(auditor).get(reverse("reports:cancellations"), {"download": "pdf"})
    assert response.status_code == 200
    assert re.search(r'class="errorlist">[^<]*pdf', response.content.decode())
    assert new_events(before) == []


# --- Arabic ----------------------------------------------------------------------------------


def arabic(text: str) -> str:
    with translation.override("ar"):
        translated = gettext(text)
    assert translated != text, f"{text!r} has no Arabic translation"
    return translated


def test_cancellations_in_arabic_are_right_to_left(
    auditor_in_arabic, auditor, coordinator, facility, login
):
    batch = cancelled_batch(coordinator, facility, reason="weather", source="who")

    response = login(auditor).get(reverse("reports:cancellations"))

    html = response.content.decode()
    assert '<html lang="ar" dir="rtl">' in html
    assert "<h1>الدفعات الملغاة</h1>" in html
    (row,) = cancellation_rows(response)
    assert row[0].text == batch.code
    assert row[4].text == arabic("weather")
    assert row[6].text == arabic("WHO")


@pytest.mark.parametrize(
    ("page", "heading"),
    [
        ("reports:overview", "Reports"),
        ("daily", "Agreed quota and crossings per day"),
        ("bumped", "Patients sent back twice or more"),
    ],
)
def test_report_pages_in_arabic_are_right_to_left(
    auditor_in_arabic, page, heading, auditor, login, world
):
    url = reverse("reports:report", args=[page]) if ":" not in page else reverse(page)

    response = login(auditor).get(url)

    html = response.content.decode()
    assert '<html lang="ar" dir="rtl">' in html
    assert f"<h1>{arabic(heading)}</h1>" in html


def test_timeline_and_journey_in_arabic_are_right_to_left(auditor_in_arabic, auditor, login, world):
    client = login(auditor)
    batch, patient = world.cancelled[0], world.bumped
    timeline = client.get(reverse("reports:batch", args=[batch.code]))
    journey = client.get(reverse("reports:patient", args=[patient.case_reference]))
    for response, heading in ((timeline, "Timeline"), (journey, "Batches")):
        html = response.content.decode()
        assert '<html lang="ar" dir="rtl">' in html
        assert f"<h2>{arabic(heading)}</h2>" in html
    assert arabic("Times sent back") in journey.content.decode()


# --- Batch timeline --------------------------------------------------------------------------


def test_timeline_shows_every_event_of_the_batch_in_order(
    auditor, coordinator, facility, ready_patient, quota, login
):
    patient = ready_patient()
    batch = exit_batch(coordinator, facility, [patient], companions=1)
    batch = advance(batch, "cleared", coordinator)
    batch = cancel(
        batch, coordinator, reason="security", source="border_authority", text="gate shut at 6"
    )
    cancelled_batch(coordinator, facility)  # another batch's events stay out

    response = login(auditor).get(reverse("reports:batch", args=[batch.code]))

    timeline, manifest = tables(response)
    what = [row[1].text for row in body_rows(timeline)]
    ref = patient.case_reference
    assert what == [
        "created",
        f"person added {ref}",
        "prepared",
        "submitted for security vetting",
        f"clearance recorded {ref}",
        f"clearance recorded companion #{patient.companions.get().pk} of {ref}",
        "cleared",
        "cancelled",
    ]
    events = list(Event.objects.filter(batch_ref=batch.code).order_by("created_at", "id"))
    assert [row[0].text for row in body_rows(timeline)] == [
        timezone.localtime(e.created_at).strftime("%Y-%m-%d %H:%M") for e in events
    ]
    cancel_row = [cell.text for cell in body_rows(timeline)[-1]]
    assert cancel_row[2:6] == [
        "coordinator (coordinator)",
        "cleared",
        "cancelled",
        # Nobody relayed it: the coordinator heard it from the border authority.
        "security · border authority · told us directly · gate shut at 6",
    ]
    assert texts(body_rows(manifest)) == [
        [ref, "patient", "approved", "—", "batch cancelled"],
        [f"companion #{patient.companions.get().pk} of {ref}", "companion", "approved", "—",
         "batch cancelled"],
    ]  # fmt: skip
    assert body_rows(manifest)[0][0].links == [reverse("reports:patient", args=[ref])]
    html = response.content.decode()
    assert "security · border authority · told us directly · <bdi>gate shut at 6</bdi>" in html


def test_timeline_manifest_shows_clearance_and_outcome_of_a_crossed_batch(auditor, world, login):
    batch = world.crossed

    response = login(auditor).get(reverse("reports:batch", args=[batch.code]))

    timeline, manifest = tables(response)
    assert texts(body_rows(manifest)) == [
        [world.traveller.case_reference, "patient", "approved", "crossed",
         "crossing outcome recorded"],
    ]  # fmt: skip
    assert body_rows(timeline)[-1][5].text == "crossed: 1"


def test_timeline_links_a_rescheduled_batch_both_ways(
    auditor, coordinator, facility, ready_patient, today, login
):
    old = cancelled_batch(coordinator, facility, [ready_patient()])
    new = batch_reschedule(batch=old, actor=coordinator, planned_date=today + dt.timedelta(days=1))
    client = login(auditor)

    old_page = client.get(reverse("reports:batch", args=[old.code])).content.decode()
    new_page = client.get(reverse("reports:batch", args=[new.code])).content.decode()

    assert f'href="{reverse("reports:batch", args=[new.code])}"' in old_page
    assert f'href="{reverse("reports:batch", args=[old.code])}"' in new_page


# --- Patient journey -------------------------------------------------------------------------


def test_journey_shows_each_batch_and_the_times_sent_back(auditor, world, login):
    first, second = world.cancelled

    response = login(auditor).get(reverse("reports:patient", args=[world.bumped.case_reference]))

    summary, steps = tables(response)
    facts = {row[0].text: row[1].text for row in summary}
    assert facts["Times sent back"] == "2"
    assert facts["Status"] == "waiting"
    assert facts["Crossed on"] == "—"
    # "Line ended" says why the line ended, as on the timeline (not the batch state).
    assert texts(body_rows(steps)) == [
        [b.code, b.planned_date.isoformat(), "cancelled", "pending", "—", "batch cancelled", "yes"]
        for b in (first, second)
    ]
    assert [row[0].links for row in body_rows(steps)] == [
        [reverse("reports:batch", args=[b.code])] for b in (first, second)
    ]


def test_journey_of_a_patient_who_crossed(auditor, world, login):
    response = login(auditor).get(reverse("reports:patient", args=[world.traveller.case_reference]))
    summary, steps = tables(response)
    facts = {row[0].text: row[1].text for row in summary}
    assert facts["Times sent back"] == "0"
    assert facts["Crossed on"] == world.crossed.planned_date.isoformat()
    assert [row[-1].text for row in body_rows(steps)] == ["no"]


# --- Reports ---------------------------------------------------------------------------------


def test_overview_draws_four_charts_and_every_table(auditor, world, login):
    response = login(auditor).get(reverse("reports:overview"))

    html = response.content.decode()
    # Per day out and in, per week, per reason.
    assert html.count("<svg") == 4
    headings = re.findall(r"<h2>([^<]*)</h2>", html)
    overview = ["daily", "cancellation-rate", "cancellation-reasons", "referral-to-crossing"]
    assert headings == [str(REPORTS[name].title) for name in [*overview, "deaths"]]
    found = tables(response)
    assert len(found) == 5
    for name, table in zip([*overview, "deaths"], found, strict=True):
        assert [cell.text for cell in table[0]] == [
            str(c.label).capitalize() for c in REPORTS[name].columns
        ]
    reasons = texts(body_rows(found[2]))
    assert sorted(reasons) == [["logistics", "1"], ["weather", "1"]]
    assert texts(body_rows(found[4]))[0][0] == world.deceased.case_reference


def test_overview_chart_series_have_distinct_colours(auditor, world, login):
    """Each legend swatch of a chart must have its own colour, or two series read as one."""
    html = login(auditor).get(reverse("reports:overview")).content.decode()
    charts = [svg for svg in re.findall(r"<svg.*?</svg>", html, re.S) if "No data" not in svg]
    assert len(charts) == 3  # the world has no return batch: that chart says "No data"
    for svg in charts:
        colours = dict(re.findall(r'class="swatch ([\w-]+)" fill="(#[0-9a-f]{6})"', svg))
        swatches = re.findall(r'class="swatch ([\w-]+)"', svg)
        assert swatches
        assert len({colours[name] for name in swatches}) == len(swatches), {
            name: colours[name] for name in swatches
        }


def test_overview_charts_say_no_data_without_batches(auditor, login):
    response = login(auditor).get(reverse("reports:overview"))
    html = response.content.decode()
    assert html.count("<svg") == 4
    assert "No data" in html


def test_overview_charts_are_mirrored_in_arabic(auditor_in_arabic, auditor, world, login):
    response = login(auditor).get(reverse("reports:overview"))
    html = response.content.decode()
    assert html.count('direction="rtl"') == 4
    assert arabic("Cancelled batches (%) per week") in html


def test_bumped_lists_a_patient_sent_back_twice(auditor, world, login):
    response = login(auditor).get(reverse("reports:report", args=["bumped"]))

    (table,) = tables(response)
    second = world.cancelled[1]
    assert texts(body_rows(table)) == [
        [
            world.bumped.case_reference,
            "waiting",
            "urgent",
            timezone.localtime(world.bumped.registered_at).strftime("%Y-%m-%d %H:%M"),
            "2",
            second.planned_date.isoformat(),
        ]
    ]
    patient_url = reverse("reports:patient", args=[world.bumped.case_reference])
    assert body_rows(table)[0][0].links == [patient_url]


def test_bumped_leaves_out_a_patient_sent_back_once(
    auditor, coordinator, facility, ready_patient, login
):
    cancelled_batch(coordinator, facility, [ready_patient()])
    response = login(auditor).get(reverse("reports:report", args=["bumped"]))
    (table,) = tables(response)
    assert texts(body_rows(table)) == [["Nothing to show."]]  # the list has no period


# --- Downloads from the pages ----------------------------------------------------------------


def page_url(name: str) -> str:
    if name == "cancellations":
        return reverse("reports:cancellations")
    return reverse("reports:report", args=[name])


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("name", list(REPORTS))
def test_page_download_is_the_file_and_is_logged(name, fmt, auditor, world, login):
    before = last_event_id()

    response = login(auditor).get(page_url(name), {"download": fmt})

    rows = assert_logged_export(response, name=name, fmt=fmt, user=auditor, before=before)
    assert len(rows) > 1, "the world gives every report a row"
    assert_no_live_formula(response.content, fmt)
    event = Event.objects.get(pk__gt=before)
    if name != "bumped":
        today = timezone.localdate()
        days = 7 if name == "cancellations" else 28
        start = (today - dt.timedelta(days=days - 1)).isoformat()
        assert event.details["filters"]["date_from"] == start
        assert event.details["filters"]["date_to"] == today.isoformat()


def test_page_download_keeps_the_filters(auditor, world, login):
    before = last_event_id()
    params = {"download": "csv", "reason": "weather", "order": "code"}

    response = login(auditor).get(reverse("reports:cancellations"), params)

    rows = assert_logged_export(
        response, name="cancellations", fmt="csv", user=auditor, before=before
    )
    assert [row[0] for row in rows[1:]] == [world.cancelled[0].code]
    filters = Event.objects.get(pk__gt=before).details["filters"]
    assert (filters["reason"], filters["order"]) == ("weather", "code")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("name", list(REPORTS))
@pytest.mark.parametrize("who", ["coordinator", "nurse"])
def test_page_download_refused_to_others_and_not_logged(request, who, name, fmt, login):
    before = last_event_id()
    response = login(request.getfixturevalue(who)).get(page_url(name), {"download": fmt})
    assert response.status_code == 403
    assert new_events(before) == []


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_page_download_of_cancellations_neutralises_formulas(
    fmt, auditor, coordinator, facility, login
):
    for text in FORMULAS:
        cancelled_batch(coordinator, facility, text=text)
    before = last_event_id()

    response = login(auditor).get(reverse("reports:cancellations"), {"download": fmt})

    rows = assert_logged_export(
        response, name="cancellations", fmt=fmt, user=auditor, before=before
    )
    said = rows[0].index("what was said")
    assert sorted(row[said] for row in rows[1:]) == sorted("'" + text for text in FORMULAS)
    assert_no_live_formula(response.content, fmt)


def test_cancellations_page_shows_formula_text_as_plain_text(auditor, coordinator, facility, login):
    cancelled_batch(coordinator, facility, text=FORMULAS[0])
    response = login(auditor).get(reverse("reports:cancellations"))
    (row,) = cancellation_rows(response)
    assert row[5].text == FORMULAS[0]  # shown as typed (escaped), not prefixed, on the page
    assert "&quot;http://evil.example&quot;" in response.content.decode()


# --- Cost ------------------------------------------------------------------------------------


def test_cancellations_page_queries_do_not_grow_with_rows(
    auditor, coordinator, facility, ready_patient, today, login
):
    def make(n):
        for _ in range(n):
            batch = cancelled_batch(coordinator, facility, [ready_patient()], companions=1)
            batch_reschedule(batch=batch, actor=coordinator, planned_date=today)

    client = login(auditor)
    url = reverse("reports:cancellations")

    def count(expected_rows):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        assert len(cancellation_rows(response)) == expected_rows
        return len(ctx)

    make(2)
    client.get(url)  # the first request after signing in saves the session (once a minute)
    small = count(2)
    make(4)
    large = count(6)
    assert small == large, f"{small} queries for 2 cancelled batches, {large} for 6"
