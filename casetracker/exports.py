"""CSV and XLSX exports that are safe to open in a spreadsheet, and logged when they leave.

Exports carry free text typed by users and partner staff (reasons, notes, names). A cell that
starts with `=`, `+`, `-` or `@` is run as a formula by Excel and LibreOffice (CSV injection,
e.g. `=HYPERLINK(...)` exfiltrating a row), and the usual writers do not defend against it
(DESIGN.md section 7). Every cell therefore goes through `cell_value`, and every download
through `export_response`, which records who exported which report before the file is returned.
Lists that grow with the caseload (the waiting queue) go through `export_file_response`, which
builds the file on disk, row by row, so memory does not grow with the list.
"""

import csv
import datetime as dt
import io
import math
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any, Literal

from django.db import transaction
from django.http import FileResponse, HttpResponse
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers
from django.utils.functional import Promise
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font

from casetracker.audit.models import Action, SubjectType
from casetracker.audit.services import record_event

Fmt = Literal["csv", "xlsx"]

FORMATS: dict[str, tuple[str, str]] = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
}

# OWASP "CSV injection": cells starting with these are evaluated by spreadsheet applications.
DANGEROUS_FIRST = ("=", "+", "-", "@", "\t", "\r")
# Conservative extension: spreadsheet applications (or a user's TRIM()) may drop leading blanks
# and control characters, and some convert full-width signs, so "  =1+1", "\x01=1" and a
# full-width "=1" are neutralised too.
_FORMULA_AFTER_BLANKS = re.compile(r"^[\s\x00-\x1f\x7f]*[=+\-@\uff1d\uff0b\uff0d\uff20]")
_SHEET_TITLE_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,40}")
# A file built for download stays in memory up to this size, then moves to a temporary file.
SPOOL_BYTES = 1024 * 1024
# Arabic text in a cell: read right to left and aligned to the right, whatever the sheet's view.
RTL_ALIGNMENT = Alignment(readingOrder=2, horizontal="right")


@dataclass(frozen=True)
class Column:
    """One exported column: `key` is looked up in each row dict, `label` is the header (may be a
    lazy translation, resolved in the language active when the file is built)."""

    key: str
    label: str | Promise


@dataclass(frozen=True)
class SheetLayout:
    """How an XLSX sheet is laid out (a CSV has no layout): the sheet's view right to left
    (for readers of Arabic), the keys of the columns holding Arabic text, the header row frozen
    so it stays in view while scrolling a long list."""

    right_to_left: bool = False
    rtl_columns: frozenset[str] = frozenset()
    freeze_header: bool = False


def neutralise(value: Any) -> Any:
    """Prefix `'` to a string a spreadsheet would run as a formula; return anything else as is.

    Numbers, dates, booleans and None cannot hold a formula, and a negative number must stay a
    number, so only `str` is touched. The prefix is conservative: the string "-5" becomes "'-5"
    (it is text, not a number, in our data anyway), as does "  =1" (leading blanks may be trimmed).
    """
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(DANGEROUS_FIRST) or _FORMULA_AFTER_BLANKS.match(value):
        return "'" + value
    return value


def _local_naive(value: dt.datetime) -> dt.datetime:
    """Aware datetimes are shown in the project's time zone (what users see on pages);
    openpyxl refuses aware datetimes, so the offset is dropped after conversion."""
    if timezone.is_aware(value):
        return timezone.localtime(value).replace(tzinfo=None)
    return value


def _plain(value: Any) -> str:
    """Text form of one element of a list cell, before neutralisation of the whole cell."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return _local_naive(value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    # str.__str__ gives plain text for str subclasses (enums), whose str() may be "Cls.MEMBER".
    return str.__str__(value) if isinstance(value, str) else str(value)


def cell_value(value: Any, *, fmt: Fmt = "csv") -> Any:
    """Convert one value for a cell of the given format, then neutralise it.

    CSV gets text ("" for None, "true"/"false", ISO dates) except numbers, which the csv module
    writes as-is. XLSX keeps numbers, booleans and dates typed (None is an empty cell), so
    auditors can sort and sum; aware datetimes become naive local time, in both formats.
    """
    xlsx = fmt == "xlsx"
    if value is None:
        return None if xlsx else ""
    if isinstance(value, bool):
        return value if xlsx else ("true" if value else "false")
    if isinstance(value, int):
        return value
    if isinstance(value, (float, Decimal)):
        if value.is_finite() if isinstance(value, Decimal) else math.isfinite(value):
            return value
        value = str(value)  # Excel has no NaN or infinity; "-inf" is then neutralised below
    elif isinstance(value, dt.datetime):
        value = _local_naive(value)
        return value if xlsx else value.isoformat()
    elif isinstance(value, dt.date):
        return value if xlsx else value.isoformat()
    elif isinstance(value, (list, tuple, set, frozenset)):
        value = "; ".join(_plain(v) for v in value)
    else:
        value = _plain(value)  # lazy translations, str subclasses, UUIDs...
    if not xlsx:
        return neutralise(value)
    # XML cannot carry these control characters (openpyxl raises); they are removed before the
    # check, so "\x01=1" cannot turn into a formula. A bare CR would be read back as LF: store
    # line breaks as Excel does, after the check (the prefix was decided on the original).
    value = neutralise(ILLEGAL_CHARACTERS_RE.sub("", value))
    return value.replace("\r\n", "\n").replace("\r", "\n") or None


def _row_values(columns: list[Column], row: Mapping[str, Any], fmt: Fmt) -> list[Any]:
    # row[key], not row.get(key): a misspelt key must fail in tests, not export a blank column.
    return [cell_value(row[column.key], fmt=fmt) for column in columns]


def write_csv(columns: Iterable[Column], rows: Iterable[Mapping[str, Any]], out: IO[bytes]) -> int:
    """Write the CSV into `out` one row at a time; return the number of rows (header aside).
    UTF-8 with a BOM (without it Excel decodes Arabic as Windows-1252), CRLF line ends."""
    cols = list(columns)
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
    writer = csv.writer(text, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([cell_value(column.label) for column in cols])
    count = 0
    for row in rows:
        writer.writerow(_row_values(cols, row, "csv"))
        count += 1
    text.detach()  # flushes, and leaves `out` open for the caller
    return count


def to_csv(columns: Iterable[Column], rows: Iterable[Mapping[str, Any]]) -> bytes:
    buffer = io.BytesIO()
    write_csv(columns, rows, buffer)
    return buffer.getvalue()


def sheet_title(title: str) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, no apostrophe at either end."""
    cleaned = _SHEET_TITLE_FORBIDDEN.sub("", str(title))[:31].strip("'").strip()
    return cleaned or "Sheet1"


def _xlsx_cell(sheet: Any, value: Any, *, bold: bool = False, rtl: bool = False) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        # Never a formula ("=..." is already prefixed) nor an error cell ("#N/A" would be one).
        cell.data_type = "s"
    if bold:
        cell.font = Font(bold=True)
    if rtl:
        cell.alignment = RTL_ALIGNMENT
    return cell


def write_xlsx(
    columns: Iterable[Column],
    rows: Iterable[Mapping[str, Any]],
    out: IO[bytes],
    *,
    title: str,
    layout: SheetLayout | None = None,
) -> int:
    """One sheet, bold header, written into `out`; return the number of rows. Write-only mode
    keeps the rows in a temporary file, not in memory. Its sheet view and frozen panes are
    written before the first row, so they are set before anything is appended."""
    cols = list(columns)
    layout = layout or SheetLayout()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=sheet_title(title))
    if layout.right_to_left:
        sheet.sheet_view.rightToLeft = True
    if layout.freeze_header:
        sheet.freeze_panes = "A2"
    rtl = [c.key in layout.rtl_columns for c in cols]
    sheet.append([_xlsx_cell(sheet, cell_value(c.label, fmt="xlsx"), bold=True) for c in cols])
    count = 0
    for row in rows:
        values = _row_values(cols, row, "xlsx")
        sheet.append([_xlsx_cell(sheet, v, rtl=r) for v, r in zip(values, rtl, strict=True)])
        count += 1
    workbook.save(out)
    return count


def to_xlsx(
    columns: Iterable[Column],
    rows: Iterable[Mapping[str, Any]],
    *,
    title: str,
    layout: SheetLayout | None = None,
) -> bytes:
    buffer = io.BytesIO()
    write_xlsx(columns, rows, buffer, title=title, layout=layout)
    return buffer.getvalue()


def reader_language(user: Any) -> str:
    """The language of a file's headers: the account's own (an API call with a token has no
    page language), else the active one; "ar" or "en"."""
    language = getattr(user, "preferred_language", "") or translation.get_language() or "en"
    return "ar" if language.startswith("ar") else "en"


def _filter_value(key: str, value: Any) -> Any:
    """Filters go into the audit log, which must hold no personal data: only codes and dates
    are accepted; anything else (a model instance whose str() is a name) is a caller bug."""
    if isinstance(value, dt.datetime):
        return _local_naive(value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):  # bool included
        return value
    if isinstance(value, (list, tuple)):
        return [_filter_value(key, v) for v in value]
    raise TypeError(f"export filter {key!r}: {type(value).__name__} is not a str, int or date")


def _write(
    fmt: str,
    columns: list[Column],
    rows: Iterable[Mapping[str, Any]],
    out: IO[bytes],
    name: str,
    layout: SheetLayout | None,
) -> int:
    if fmt == "csv":
        return write_csv(columns, rows, out)
    return write_xlsx(columns, rows, out, title=name, layout=layout)


def _checked(name: str, fmt: str, filters: Mapping[str, Any] | None) -> dict[str, Any]:
    """The filters as logged, once the format and name are known to be good."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ValueError(f"export name must be a short lowercase slug, not {name!r}")
    return {str(k): _filter_value(str(k), v) for k, v in (filters or {}).items() if v is not None}


def _record_export(user: Any, name: str, fmt: str, rows: int, filters: dict[str, Any]) -> None:
    record_event(
        subject_type=SubjectType.REPORT,
        subject_ref=name,
        action=Action.EXPORT,
        actor=user,
        details={"format": fmt, "rows": rows, "filters": filters},
    )


def _filename(name: str, fmt: str) -> str:
    return f"{name}-{timezone.localdate().isoformat()}.{FORMATS[fmt][1]}"


def export_response(
    *,
    user: Any,
    name: str,
    columns: Iterable[Column],
    rows: Iterable[Mapping[str, Any]],
    fmt: str,
    filters: Mapping[str, Any] | None = None,
) -> HttpResponse:
    """Build the file and log the export (report name, format, row count, filters: never row
    content) before returning it as a non-cacheable attachment.

    Raises ValueError for an unknown format or a name that is not a short slug, and TypeError
    for a filter value that is not a str, int, date or list of those; nothing is logged then.
    """
    logged_filters = _checked(name, fmt, filters)
    buffer = io.BytesIO()
    count = _write(fmt, list(columns), rows, buffer, name, None)
    with transaction.atomic():
        _record_export(user, name, fmt, count, logged_filters)
    response = HttpResponse(buffer.getvalue(), content_type=FORMATS[fmt][0])
    response["Content-Disposition"] = f'attachment; filename="{_filename(name, fmt)}"'
    add_never_cache_headers(response)  # no-store: shared machines, proxies
    return response


def export_file_response(
    *,
    user: Any,
    name: str,
    columns: Iterable[Column],
    rows: Iterable[Mapping[str, Any]],
    fmt: str,
    filters: Mapping[str, Any] | None = None,
    layout: SheetLayout | None = None,
    record_read: Callable[[int], Any] | None = None,
    file_stem: str = "",
) -> FileResponse:
    """`export_response` for lists that grow with the caseload: rows are written to the file
    as they are read (a generator reading the database in chunks stays a generator), the file
    stays in memory up to SPOOL_BYTES and on disk beyond, and is streamed back from there.

    Once the whole file is built, in one transaction, the export event and, if given,
    `record_read(rows)` (the access-log event of the personal data in the file) are written:
    a file that failed halfway is neither logged nor sent. `file_stem` names the file instead
    of the export's name and the day (a batch's manifest: its code). Raises as `export_response`.
    """
    logged_filters = _checked(name, fmt, filters)
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (FileResponse closes it)
    try:
        count = _write(fmt, list(columns), rows, spool, name, layout)
        with transaction.atomic():
            _record_export(user, name, fmt, count, logged_filters)
            if record_read is not None:
                record_read(count)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    # FileResponse closes the file once sent (and so deletes it).
    response = FileResponse(
        spool,
        as_attachment=True,
        filename=f"{file_stem}.{FORMATS[fmt][1]}" if file_stem else _filename(name, fmt),
        content_type=FORMATS[fmt][0],
    )
    add_never_cache_headers(response)
    return response
