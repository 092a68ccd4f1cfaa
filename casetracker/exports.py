"""CSV and XLSX exports that are safe to open in a spreadsheet, and logged when they leave.

Exports carry free text typed by users and partner staff (reasons, notes, names). A cell that
starts with `=`, `+`, `-` or `@` is run as a formula by Excel and LibreOffice (CSV injection,
e.g. `=HYPERLINK(...)` exfiltrating a row), and the usual writers do not defend against it
(DESIGN.md section 7). Every cell therefore goes through `cell_value`, and every download
through `export_response`, which records who exported which report before the file is returned.
"""

import csv
import datetime as dt
import io
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.functional import Promise
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

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


@dataclass(frozen=True)
class Column:
    """One exported column: `key` is looked up in each row dict, `label` is the header (may be a
    lazy translation, resolved in the language active when the file is built)."""

    key: str
    label: str | Promise


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


def to_csv(columns: Iterable[Column], rows: Iterable[Mapping[str, Any]]) -> bytes:
    """UTF-8 with a BOM (without it Excel decodes Arabic as Windows-1252), CRLF line ends."""
    cols = list(columns)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([cell_value(column.label) for column in cols])
    for row in rows:
        writer.writerow(_row_values(cols, row, "csv"))
    return buffer.getvalue().encode("utf-8-sig")


def sheet_title(title: str) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, no apostrophe at either end."""
    cleaned = _SHEET_TITLE_FORBIDDEN.sub("", str(title))[:31].strip("'").strip()
    return cleaned or "Sheet1"


def _xlsx_cell(sheet: Any, value: Any, *, bold: bool = False) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        # Never a formula ("=..." is already prefixed) nor an error cell ("#N/A" would be one).
        cell.data_type = "s"
    if bold:
        cell.font = Font(bold=True)
    return cell


def to_xlsx(columns: Iterable[Column], rows: Iterable[Mapping[str, Any]], *, title: str) -> bytes:
    """One sheet, bold header; streamed (write-only) so large reports stay within memory."""
    cols = list(columns)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=sheet_title(title))
    sheet.append([_xlsx_cell(sheet, cell_value(c.label, fmt="xlsx"), bold=True) for c in cols])
    for row in rows:
        sheet.append([_xlsx_cell(sheet, v) for v in _row_values(cols, row, "xlsx")])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


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
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ValueError(f"export name must be a short lowercase slug, not {name!r}")
    content_type, extension = FORMATS[fmt]
    cols = list(columns)
    materialised = list(rows)  # iterated twice (file, row count): a generator would be empty
    logged_filters = {
        str(k): _filter_value(str(k), v) for k, v in (filters or {}).items() if v is not None
    }
    if fmt == "csv":
        content = to_csv(cols, materialised)
    else:
        content = to_xlsx(cols, materialised, title=name)
    with transaction.atomic():
        record_event(
            subject_type=SubjectType.REPORT,
            subject_ref=name,
            action=Action.EXPORT,
            actor=user,
            details={"format": fmt, "rows": len(materialised), "filters": logged_filters},
        )
    response = HttpResponse(content, content_type=content_type)
    filename = f"{name}-{timezone.localdate().isoformat()}.{extension}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    add_never_cache_headers(response)  # no-store: shared machines, proxies
    return response
