"""Spreadsheet exports: formula neutralisation, CSV and XLSX round trips, and the access log."""

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import openpyxl
import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy

from casetracker.audit.models import Event
from casetracker.exports import (
    FORMATS,
    Column,
    cell_value,
    export_response,
    neutralise,
    sheet_title,
    to_csv,
    to_xlsx,
)

DANGEROUS = ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"]
HYPERLINK = '=HYPERLINK("http://evil","x")'
ARABIC = "الدفعة RAF-2026-02-04-3"
COLUMNS = [Column("code", "Code"), Column("note", "Note")]
SENTINEL_NAME = "Zz-Sentinel Qishta"


def _parse_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data[3:].decode("utf-8"), newline="")))


def _sheet(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data)).active


# neutralise


@pytest.mark.parametrize("value", DANGEROUS)
def test_neutralise_prefixes_dangerous_first_character(value):
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["  =1+1", " -1", "\n@x", "\x01=1", "\uff1d1+1"])
def test_neutralise_prefixes_after_leading_blanks_and_full_width(value):
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["RAF-2026", "a=b", "x-1", "'=already", "", ARABIC, " a -1"])
def test_neutralise_leaves_safe_strings(value):
    assert neutralise(value) == value


@pytest.mark.parametrize("value", [5, -5, -2.5, Decimal("-3.10"), dt.date(2026, 2, 4), True, None])
def test_neutralise_leaves_non_strings(value):
    result = neutralise(value)
    assert result is value


# cell_value


def test_cell_value_csv_conversions():
    assert cell_value(None) == ""
    assert (cell_value(True), cell_value(False)) == ("true", "false")
    assert cell_value(dt.date(2026, 2, 4)) == "2026-02-04"
    assert cell_value(["-a", "b", None]) == "'-a; b; "
    assert cell_value(Decimal("-1.5")) == Decimal("-1.5")
    assert cell_value(float("-inf")) == "'-inf"


def test_cell_value_xlsx_keeps_types_and_strips_illegal_characters():
    assert cell_value(None, fmt="xlsx") is None
    assert cell_value(True, fmt="xlsx") is True
    assert cell_value(dt.date(2026, 2, 4), fmt="xlsx") == dt.date(2026, 2, 4)
    assert cell_value("\x01=1", fmt="xlsx") == "'=1"
    assert cell_value("a\r\nb", fmt="xlsx") == "a\nb"


def test_cell_value_aware_datetime_becomes_local(settings):
    settings.TIME_ZONE = "Asia/Gaza"
    moment = dt.datetime(2026, 2, 4, 8, 30, tzinfo=dt.UTC)  # Gaza is UTC+2 in February
    assert cell_value(moment) == "2026-02-04T10:30:00"
    assert cell_value(moment, fmt="xlsx") == dt.datetime(2026, 2, 4, 10, 30)


# to_csv


def test_to_csv_round_trips_header_values_and_neutralises():
    rows = [
        {"code": "RAF-1", "note": HYPERLINK},
        {"code": -5, "note": "-5"},
        {"code": ARABIC, "note": None},
    ]
    parsed = _parse_csv(to_csv(COLUMNS, rows))
    assert parsed == [
        ["Code", "Note"],
        ["RAF-1", "'" + HYPERLINK],
        ["-5", "'-5"],
        [ARABIC, ""],
    ]


def test_to_csv_uses_bom_and_crlf():
    data = to_csv(COLUMNS, [{"code": "a", "note": "b"}])
    assert data == b"\xef\xbb\xbfCode,Note\r\na,b\r\n"


def test_to_csv_neutralises_header_labels():
    parsed = _parse_csv(to_csv([Column("code", "=cmd")], []))
    assert parsed == [["'=cmd"]]


def test_to_csv_lazy_label_is_translated_when_built():
    columns = [Column("batch", gettext_lazy("batch"))]
    with translation.override("ar"):
        parsed = _parse_csv(to_csv(columns, [{"batch": ARABIC}]))
    assert parsed == [["دفعة"], [ARABIC]]


def test_to_csv_missing_key_fails():
    with pytest.raises(KeyError):
        to_csv(COLUMNS, [{"code": "a"}])


# to_xlsx


def test_to_xlsx_writes_no_formula_for_any_dangerous_prefix():
    extra = ["#N/A", HYPERLINK, "  =1"]
    columns = [Column(f"c{i}", f"=h{i}") for i in range(len(DANGEROUS) + len(extra))]
    row = {f"c{i}": value for i, value in enumerate(DANGEROUS + extra)}
    sheet = _sheet(to_xlsx(columns, [row], title="t"))
    cells = [cell for line in sheet.iter_rows() for cell in line]
    assert cells
    assert all(cell.data_type == "s" for cell in cells)
    header, values = ([c.value for c in line] for line in sheet.iter_rows())
    assert header == [f"'=h{i}" for i in range(len(columns))]
    # A bare CR is stored as LF (XML would turn it into one on reading anyway).
    neutralised = ["'=1+1", "'+1", "'-1", "'@SUM(A1)", "'\tx", "'\nx"]
    assert values == [*neutralised, "#N/A", "'" + HYPERLINK, "'  =1"]


def test_to_xlsx_keeps_numbers_dates_and_arabic(settings):
    settings.TIME_ZONE = "Asia/Gaza"
    columns = [Column(k, k) for k in ("int", "neg", "dec", "day", "at", "text", "none")]
    row = {
        "int": 3,
        "neg": -2.5,
        "dec": Decimal("1.25"),
        "day": dt.date(2026, 2, 4),
        "at": dt.datetime(2026, 2, 4, 8, 30, tzinfo=dt.UTC),
        "text": ARABIC,
        "none": None,
    }
    sheet = _sheet(to_xlsx(columns, [row], title="t"))
    (cells,) = sheet.iter_rows(min_row=2)
    assert [c.data_type for c in cells[:3]] == ["n", "n", "n"]
    assert [c.value for c in cells[:3]] == [3, -2.5, 1.25]
    assert cells[3].is_date and cells[3].value == dt.datetime(2026, 2, 4)
    assert cells[4].is_date and cells[4].value == dt.datetime(2026, 2, 4, 10, 30)
    assert cells[5].value == ARABIC
    assert cells[6].value is None


def test_to_xlsx_header_is_bold():
    sheet = _sheet(to_xlsx(COLUMNS, [], title="t"))
    assert sheet["A1"].font.b is True


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("a[b]c:d*e?f/g\\h", "abcdefgh"),
        ("x" * 40, "x" * 31),
        ("'quoted'", "quoted"),
        ("[]", "Sheet1"),
    ],
)
def test_sheet_title_sanitised(title, expected):
    assert sheet_title(title) == expected


def test_to_xlsx_uses_sanitised_sheet_title():
    workbook = openpyxl.load_workbook(io.BytesIO(to_xlsx(COLUMNS, [], title="Cancelled: 2026/02")))
    assert workbook.sheetnames == ["Cancelled 202602"]


# export_response


def _rows():
    # A generator: export_response must materialise it once (file and row count agree).
    yield {"code": "RAF-2026-02-04-3", "note": SENTINEL_NAME}
    yield {"code": "RAF-2026-02-04-4", "note": "=1+1"}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_response_headers_and_one_event(auditor, fmt):
    filters = {"date_from": dt.date(2026, 2, 1), "reason_code": "no_reason_given", "limit": 50}
    response = export_response(
        user=auditor, name="cancellations", columns=COLUMNS, rows=_rows(), fmt=fmt, filters=filters
    )
    assert response.status_code == 200
    assert response["Content-Type"] == FORMATS[fmt][0]
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == (
        f'attachment; filename="cancellations-{today}.{fmt}"'
    )
    assert "no-store" in response["Cache-Control"]
    event = Event.objects.get()
    assert (event.subject_type, event.subject_ref, event.action) == (
        "report",
        "cancellations",
        "export",
    )
    assert event.actor == auditor
    assert event.details == {
        "format": fmt,
        "rows": 2,
        "filters": {"date_from": "2026-02-01", "reason_code": "no_reason_given", "limit": 50},
    }


def test_export_response_file_contains_all_rows(coordinator):
    response = export_response(
        user=coordinator, name="cancellations", columns=COLUMNS, rows=_rows(), fmt="csv"
    )
    assert _parse_csv(response.content)[1:] == [
        ["RAF-2026-02-04-3", SENTINEL_NAME],
        ["RAF-2026-02-04-4", "'=1+1"],
    ]
    assert Event.objects.get().details["filters"] == {}


def test_export_response_event_holds_no_row_content(auditor):
    export_response(user=auditor, name="cancellations", columns=COLUMNS, rows=_rows(), fmt="xlsx")
    event = Event.objects.get()
    stored = json.dumps(event.details) + event.subject_ref + event.reason_text
    assert "Sentinel" not in stored
    assert "RAF-2026-02-04" not in stored


@pytest.mark.parametrize("fmt", ["pdf", "CSV", ""])
def test_export_response_unknown_format_raises_and_logs_nothing(auditor, fmt):
    with pytest.raises(ValueError, match="format"):
        export_response(user=auditor, name="cancellations", columns=COLUMNS, rows=[], fmt=fmt)
    assert not Event.objects.exists()


@pytest.mark.parametrize("name", ["Cancellations", "a b", 'x"; evil', "ok\n", "a" * 50])
def test_export_response_rejects_unsafe_name(auditor, name):
    with pytest.raises(ValueError, match="name"):
        export_response(user=auditor, name=name, columns=COLUMNS, rows=[], fmt="csv")
    assert not Event.objects.exists()


def test_export_response_rejects_filter_that_is_not_a_code_or_date(auditor):
    with pytest.raises(TypeError, match="patient"):
        export_response(
            user=auditor,
            name="cancellations",
            columns=COLUMNS,
            rows=[],
            fmt="csv",
            filters={"patient": object()},
        )
    assert not Event.objects.exists()
