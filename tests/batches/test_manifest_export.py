"""A batch's manifest as a CSV or XLSX download, from the batch page and the API: the people of
the printed manifest, one row each, scoped as the batch page, ID numbers as the PDF prints them,
formula-safe, logged as an export and in the access log, Arabic names right to left."""

import csv
import io
import json

import openpyxl
import pytest
from django.urls import reverse
from django.utils import translation

from batches.manifest_export import COLUMNS
from batches.services import batch_add_patient, vehicle_add, vehicle_assign
from casetracker.audit.models import Event
from tests import factories

pytestmark = pytest.mark.django_db

FATIMA = ("Fatima Zahra", "فاطمة الزهراء", "401234567")
MOTHER = ("Salam Khaled", "سلام خالد", "802345678")
YOUSEF = ("Yousef Lafi", "يوسف لافي", "409876543")
FORMULA = "=1+cmd|' /C calc'!A0"
KEYS = [column.key for column in COLUMNS]


@pytest.fixture
def batch(facility, coordinator, ready_patient, quota):
    """A draft at `facility`: Fatima with her mother (guardian, a formula for a relationship)
    in Ambulance 1; Yousef without a vehicle."""
    batch = factories.BatchFactory(staging_facility=facility)
    fatima = ready_patient(name_latin=FATIMA[0], name_arabic=FATIMA[1], national_id=FATIMA[2])
    mother = factories.CompanionFactory(
        patient=fatima,
        name_latin=MOTHER[0],
        name_arabic=MOTHER[1],
        national_id=MOTHER[2],
        relationship=FORMULA,
        is_guardian=True,
    )
    yousef = ready_patient(name_latin=YOUSEF[0], name_arabic=YOUSEF[1], national_id=YOUSEF[2])
    lines = batch_add_patient(batch=batch, patient=fatima, actor=coordinator, companions=[mother])
    batch_add_patient(batch=batch, patient=yousef, actor=coordinator)
    vehicle_add(batch=batch, actor=coordinator, kind="ambulance", seats=2, stretchers=1)
    vehicle_assign(batch=batch, actor=coordinator, assignments={lines[0].pk: 1, lines[1].pk: 1})
    batch.fatima, batch.yousef = fatima, yousef
    return batch


def page(batch) -> str:
    return reverse("batches:manifest-export", args=[batch.code])


def api_url(batch) -> str:
    return f"/api/v1/batches/{batch.code}/manifest-export/"


def content(response) -> bytes:
    assert response.status_code == 200, response.content[:300]
    return b"".join(response.streaming_content)


def rows(response, fmt: str) -> list[dict]:
    data = content(response)
    if fmt == "csv":
        table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    else:
        sheet = openpyxl.load_workbook(io.BytesIO(data)).active
        table = [["" if v is None else v for v in r] for r in sheet.iter_rows(values_only=True)]
    return [dict(zip(KEYS, row, strict=True)) for row in table[1:]]


def last_id() -> int:
    return Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def new_events(before: int) -> list[Event]:
    return list(Event.objects.filter(pk__gt=before).order_by("pk"))


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_manifest_export_one_row_per_person_for_a_coordinator(fmt, client, coordinator, batch):
    client.force_login(coordinator)
    found = rows(client.get(page(batch), {"download": fmt}), fmt)
    assert [(r["role"], r["name_latin"], r["national_id"]) for r in found] == [
        ("patient", FATIMA[0], FATIMA[2]),
        ("companion", MOTHER[0], MOTHER[2]),
        ("patient", YOUSEF[0], YOUSEF[2]),
    ]
    fatima, mother, yousef = found
    assert {r["batch"] for r in found} == {batch.code}
    assert fatima["reference"] == mother["reference"] == batch.fatima.case_reference
    assert mother["name_arabic"] == MOTHER[1]
    assert mother["relationship"] == "'" + FORMULA  # neutralised
    assert mother["is_guardian"] == ("true" if fmt == "csv" else True)
    assert fatima["is_guardian"] == ""
    dob = fatima["date_of_birth"]
    assert (dob if fmt == "csv" else dob.date().isoformat()) == "1980-05-17"
    assert str(fatima["age"]).isdigit()
    assert (fatima["sex"], fatima["clearance"]) == ("female", "pending")
    assert fatima["vehicle"] == mother["vehicle"] == "Ambulance 1"
    assert yousef["vehicle"] == ""


def test_manifest_export_api_the_same_rows(api, coordinator, batch):
    found = rows(api(coordinator).get(api_url(batch), {"download": "csv"}), "csv")
    assert [r["national_id"] for r in found] == [FATIMA[2], MOTHER[2], YOUSEF[2]]


@pytest.mark.parametrize("who", ["nurse", "auditor"])
def test_manifest_export_masks_ids_for_staff_and_auditors(who, request, api, batch):
    found = rows(api(request.getfixturevalue(who)).get(api_url(batch), {"download": "csv"}), "csv")
    assert [r["national_id"] for r in found] == ["•••••4567", "•••••5678", "•••••6543"]


def test_manifest_export_of_another_facility_is_not_found(client, api, other_nurse, batch):
    before = last_id()
    assert api(other_nurse).get(api_url(batch), {"download": "csv"}).status_code == 404
    client.force_login(other_nurse)
    assert client.get(page(batch), {"download": "csv"}).status_code == 404
    assert new_events(before) == []


@pytest.mark.parametrize("query", [{}, {"download": "pdf"}])
def test_manifest_export_unknown_format_refused(query, client, api, coordinator, batch):
    before = last_id()
    response = api(coordinator).get(api_url(batch), query)
    assert response.status_code == 400 and list(response.json()) == ["download"]
    client.force_login(coordinator)
    assert client.get(page(batch), query).status_code == 400
    assert new_events(before) == []


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_manifest_export_logs_an_export_and_an_access_without_personal_data(
    fmt, client, nurse, batch
):
    before = last_id()
    client.force_login(nurse)
    response = client.get(page(batch), {"download": fmt})
    content(response)
    export, access = new_events(before)
    assert (export.subject_type, export.subject_ref, export.action) == (
        "report",
        "batch-manifest",
        "export",
    )
    assert export.details == {"format": fmt, "rows": 3, "filters": {"batch": batch.code}}
    assert response["Content-Disposition"] == f'attachment; filename="{batch.code}-manifest.{fmt}"'
    assert (access.subject_type, access.subject_ref, access.action) == (
        "batch",
        batch.code,
        "view",
    )
    assert access.details["document"] == f"manifest_{fmt}"
    assert access.details["national_id"] == "last_4_digits"
    assert access.details["rows"] == 3
    assert access.details["results"] == sorted(
        [batch.fatima.case_reference, batch.yousef.case_reference]
    )
    stored = json.dumps([export.details, access.details]) + export.reason_text
    for personal in (*FATIMA, *MOTHER, *YOUSEF, "4567", "calc"):
        assert personal not in stored


def test_manifest_export_xlsx_for_an_arabic_reader(client, nurse, batch):
    client.force_login(nurse)  # preferred_language="ar"
    sheet = openpyxl.load_workbook(
        io.BytesIO(content(client.get(page(batch), {"download": "xlsx"})))
    ).active
    assert sheet.freeze_panes == "A2"
    assert sheet.sheet_view.rightToLeft is True
    with translation.override("ar"):
        assert [c.value for c in sheet[1]] == [str(column.label) for column in COLUMNS]
        assert sheet.cell(row=2, column=KEYS.index("role") + 1).value == str(
            translation.gettext("patient")
        )
    name = sheet.cell(row=2, column=KEYS.index("name_arabic") + 1)
    assert name.value == FATIMA[1]
    assert (name.alignment.readingOrder, name.alignment.horizontal) == (2, "right")
    latin = sheet.cell(row=2, column=KEYS.index("name_latin") + 1)
    assert latin.alignment.readingOrder in (0, None)


def test_manifest_export_xlsx_for_an_english_reader(api, coordinator, batch):
    response = api(coordinator).get(api_url(batch), {"download": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(content(response))).active
    assert sheet.freeze_panes == "A2" and not sheet.sheet_view.rightToLeft
    assert sheet.cell(row=1, column=1).value == "batch"
    assert sheet.cell(row=2, column=KEYS.index("name_arabic") + 1).alignment.readingOrder == 2


@pytest.mark.parametrize("who", ["coordinator", "nurse", "auditor"])
def test_batch_page_links_to_both_downloads(who, request, client, batch):
    client.force_login(request.getfixturevalue(who))
    html = client.get(reverse("batches:detail", args=[batch.code])).content.decode()
    for fmt in ("csv", "xlsx"):
        assert f'href="{page(batch)}?download={fmt}" download' in html
