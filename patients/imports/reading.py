"""Reading a spreadsheet someone uploads: CSV in the encodings Gaza's offices save, or XLSX,
one row at a time, refusing what is too big or hostile before it is parsed.

A file is refused whole (`FileRefused`) when it cannot be read safely: too large, too many rows,
an encoding we cannot tell, a zip bomb, XML with a DTD or entities. Each refusal names the row
(as the file numbers it: the header is row 1) and the column where there is one."""

import codecs
import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.utils.translation import gettext as _

# Tried in this order on a CSV without a byte-order mark. Windows-1256 decodes any byte, so it
# comes last: a file that is not UTF-8 is read as the Arabic Windows code page.
CSV_ENCODINGS = ("utf-8", "cp1256")
_CHUNK = 64 * 1024
# Characters that never occur in a spreadsheet's text: a NUL or another C0 control means the
# bytes were not text in the encoding tried (UTF-16 without its mark, a binary file).
_NOT_TEXT = frozenset(chr(c) for c in range(32)) - {"\t", "\n", "\r"}


class FileRefused(Exception):
    """The file cannot be imported at all. `row` and `column` (a header as the file spells it)
    say where, when the problem is in one place."""

    def __init__(self, message: str, *, row: int | None = None, column: str | None = None):
        self.message, self.row, self.column = message, row, column
        super().__init__(str(self))

    def __str__(self) -> str:
        return where(self.row, self.column) + self.message


def where(row: int | None, column: str | None) -> str:
    """'row 5, column "Date of birth": ' (or the parts that are known)."""
    parts = []
    if row is not None:
        parts.append(_("row %(row)d") % {"row": row})
    if column:
        parts.append(_('column "%(column)s"') % {"column": column})
    return ", ".join(parts) + ": " if parts else ""


@dataclass
class Table:
    """A file's header row and an iterator of its data rows: `(row number, cells)`, the cells as
    stripped text (XLSX dates as `date`), never more than `IMPORT_MAX_ROWS` of them."""

    headers: list[str]
    rows: Iterator[tuple[int, list[Any]]]
    # How many data rows the file says it holds (XLSX) or counted on the way (CSV), for a
    # progress bar; None when unknown.
    size_hint: int | None


def file_size(file: IO[bytes]) -> int:
    file.seek(0, io.SEEK_END)
    size = file.tell()
    file.seek(0)
    return size


def open_table(file: IO[bytes], *, name: str) -> Table:
    """Open an uploaded or local file (binary, seekable) as a `Table`; XLSX by its extension or
    its zip signature, CSV otherwise."""
    size = file_size(file)
    if size > settings.IMPORT_MAX_BYTES:
        raise FileRefused(
            _("the file is %(size)s bytes; at most %(limit)s are accepted")
            % {"size": f"{size:,}", "limit": f"{settings.IMPORT_MAX_BYTES:,}"}
        )
    if size == 0:
        raise FileRefused(_("the file is empty"))
    signature = file.read(4)
    file.seek(0)
    if name.lower().endswith((".xlsx", ".xlsm")) or signature == b"PK\x03\x04":
        return _open_xlsx(file)
    return _open_csv(file)


def _limited(rows: Iterator[tuple[int, list[Any]]]) -> Iterator[tuple[int, list[Any]]]:
    """Data rows, blank ones skipped, refused past IMPORT_MAX_ROWS."""
    count = 0
    for number, cells in rows:
        if not any(cell not in (None, "") for cell in cells):
            continue
        count += 1
        if count > settings.IMPORT_MAX_ROWS:
            raise FileRefused(
                _("more than %(limit)s rows; split the list into several files")
                % {"limit": f"{settings.IMPORT_MAX_ROWS:,}"},
                row=number,
            )
        yield number, cells


def _header(cells: list[Any] | None) -> list[str]:
    headers = [("" if cell is None else str(cell)).strip() for cell in cells or []]
    while headers and not headers[-1]:
        headers.pop()
    if not headers:
        raise FileRefused(_("the first row must hold the column headers"), row=1)
    return headers


# --- CSV ------------------------------------------------------------------------------------


def _bom_encoding(start: bytes) -> tuple[str, int] | None:
    if start.startswith(codecs.BOM_UTF8):
        return "utf-8", len(codecs.BOM_UTF8)
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", 0  # the codec reads the mark and the byte order from it
    return None


def _decodes(file: IO[bytes], encoding: str, skip: int) -> bool:
    """The whole file decodes as text in `encoding`, read in chunks (constant memory)."""
    file.seek(skip)
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        while chunk := file.read(_CHUNK):
            if not _NOT_TEXT.isdisjoint(decoder.decode(chunk)):
                return False
        return _NOT_TEXT.isdisjoint(decoder.decode(b"", final=True))
    except UnicodeDecodeError:
        return False
    finally:
        file.seek(0)


def detect_encoding(file: IO[bytes]) -> tuple[str, int]:
    """The encoding of a CSV and the bytes of its mark to skip: a UTF-8 or UTF-16 mark decides;
    otherwise UTF-8, then Windows-1256, the first in which the whole file is text."""
    start = file.read(4)
    file.seek(0)
    found = _bom_encoding(start)
    candidates = [found] if found else [(encoding, 0) for encoding in CSV_ENCODINGS]
    for encoding, skip in candidates:
        if _decodes(file, encoding, skip):
            return encoding, skip
    raise FileRefused(
        _(
            "the file is not text in UTF-8, UTF-16 or Windows-1256 (Arabic); save it again as "
            "CSV UTF-8 or as XLSX"
        )
    )


def _open_csv(file: IO[bytes]) -> Table:
    encoding, skip = detect_encoding(file)
    file.seek(skip)
    text = io.TextIOWrapper(file, encoding=encoding, newline="")
    # A cell longer than csv's default limit (128 KB) must reach the check that names its row
    # and column, not fail inside the parser; the whole file is bounded by IMPORT_MAX_BYTES.
    csv.field_size_limit(max(csv.field_size_limit(), settings.IMPORT_MAX_BYTES))
    first_line = text.readline(_CHUNK)
    text.detach()  # closing the wrapper would close the file
    # Excel saves CSV with semicolons where the decimal separator is a comma. The separator is
    # read from the header row alone: free text in the rows (a diagnosis) holds any of them.
    delimiter = max(",;\t", key=first_line.count)
    file.seek(skip)
    text = io.TextIOWrapper(file, encoding=encoding, newline="")
    reader = csv.reader(text, delimiter=delimiter)
    try:
        headers = _header(next(reader, None))
    except csv.Error as exc:
        raise FileRefused(
            _("the file is not a readable CSV (%(error)s)") % {"error": exc}, row=1
        ) from exc

    def rows() -> Iterator[tuple[int, list[Any]]]:
        number = 1
        try:
            for cells in reader:
                number += 1
                yield number, [cell.strip() for cell in cells]
        except csv.Error as exc:
            raise FileRefused(
                _("the file is not a readable CSV (%(error)s)") % {"error": exc}, row=number + 1
            ) from exc

    return Table(headers=headers, rows=_limited(rows()), size_hint=None)


# --- XLSX -----------------------------------------------------------------------------------


def _refuse_hostile_archive(file: IO[bytes]) -> None:
    """Check an XLSX before openpyxl opens it: the sizes its parts declare (the zip reader never
    unpacks more than a part declares), their number, and no DTD in any XML part (external
    entities, "billion laughs"). openpyxl also parses through defusedxml, which refuses entities;
    this refuses the file as a whole, with a message, before any parsing."""
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError) as exc:
        raise FileRefused(_("the file is not a readable XLSX workbook")) from exc
    with archive:
        members = archive.infolist()
        if len(members) > settings.IMPORT_MAX_ARCHIVE_MEMBERS:
            raise FileRefused(
                _("the workbook holds %(count)d parts; at most %(limit)d are accepted")
                % {"count": len(members), "limit": settings.IMPORT_MAX_ARCHIVE_MEMBERS}
            )
        unpacked = sum(member.file_size for member in members)
        if unpacked > settings.IMPORT_MAX_UNPACKED_BYTES:
            raise FileRefused(
                _(
                    "the workbook would unpack to %(size)s bytes; at most %(limit)s are "
                    "accepted (a compressed archive that grows this much is refused)"
                )
                % {"size": f"{unpacked:,}", "limit": f"{settings.IMPORT_MAX_UNPACKED_BYTES:,}"}
            )
        for member in members:
            if member.filename.endswith((".xml", ".rels", ".vml")) and _has_dtd(archive, member):
                raise FileRefused(
                    _("the workbook holds an XML document type declaration (DTD); it is refused")
                )
    file.seek(0)


def _has_dtd(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bool:
    """A DTD can only stand before the root element: the start of each part is enough. Parts
    in UTF-16 (allowed by XML, never written by spreadsheet programs) are read as such."""
    with archive.open(member) as part:
        start = part.read(_CHUNK)
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        start = start.decode("utf-16", errors="replace").encode("utf-8")
    elif start[:4] in (b"<\x00?\x00", b"\x00<\x00?"):
        start = start.decode("utf-16-le" if start[0] else "utf-16-be", errors="replace").encode()
    return b"<!DOCTYPE" in start.upper() or b"<!ENTITY" in start.upper()


def _xlsx_cell(value: Any) -> Any:
    """A cell as text (stripped), a date for a date, "" for an empty cell. Whole numbers lose
    the ".0" a spreadsheet adds (an ID number typed as a number)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _open_xlsx(file: IO[bytes]) -> Table:
    # Imported here: defusedxml must be importable for openpyxl to parse through it; it is a
    # dependency, so this only fails on a broken installation, loudly.
    import defusedxml  # noqa: F401
    from defusedxml import DefusedXmlException
    from openpyxl import load_workbook
    from openpyxl.xml import DEFUSEDXML

    if not DEFUSEDXML:
        raise RuntimeError("openpyxl does not parse through defusedxml")
    _refuse_hostile_archive(file)
    try:
        workbook = load_workbook(file, read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        cells = sheet.iter_rows(values_only=True)
        headers = _header(list(next(cells, None) or []))
    except FileRefused:
        raise
    except DefusedXmlException as exc:
        raise FileRefused(_("the workbook holds XML entities; it is refused")) from exc
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise FileRefused(_("the file is not a readable XLSX workbook")) from exc

    def rows() -> Iterator[tuple[int, list[Any]]]:
        number = 1
        try:
            for values in cells:
                number += 1
                yield number, [_xlsx_cell(value) for value in values]
        except DefusedXmlException as exc:
            raise FileRefused(_("the workbook holds XML entities; it is refused")) from exc
        except (zipfile.BadZipFile, OSError, ValueError, KeyError) as exc:
            raise FileRefused(
                _("the workbook is damaged and cannot be read further"), row=number + 1
            ) from exc
        finally:
            workbook.close()

    hint = sheet.max_row - 1 if sheet.max_row else None
    return Table(headers=headers, rows=_limited(rows()), size_hint=hint)
