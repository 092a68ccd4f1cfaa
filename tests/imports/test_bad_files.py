"""The corpus of bad files: each refused with a message naming the row and the column where
there is one, the database unchanged, and the refusal itself one audit event."""

import io

import pytest

from patients.imports.cases import import_cases
from patients.imports.reading import FileRefused, open_table

from .files import (
    HEADERS,
    case_row,
    csv_bytes,
    database_state,
    import_events,
    rewrite_part,
    xlsx_bytes,
    zip_bomb,
)

XXE = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
)


def refusal(data: bytes, name: str, actor) -> tuple:
    """What the import answers for a file it refuses, after checking that nothing changed and
    that the refusal was recorded."""
    before = database_state()
    result = import_cases(file=io.BytesIO(data), name=name, actor=actor, dry_run=False)
    assert not result.applied
    assert database_state() == before
    (event,) = import_events()
    assert event.details["applied"] is False
    errors = result.errors()
    assert errors, "refused without a reason"
    return [(e.row, e.column, e.message) for e in errors]


def with_xxe(text: str) -> str:
    body = text.split("?>", 1)[1] if text.startswith("<?xml") else text
    return XXE + body.replace("<v>", "<v>&xxe;", 1)


BAD_FILES = {
    "empty": (b"", "list.csv", [(None, None, "the file is empty")]),
    "only headers": (
        csv_bytes([]),
        "list.csv",
        [(2, None, "the file holds no rows under its headers")],
    ),
    "only blank lines under the headers": (
        csv_bytes([["", ""], []]),
        "list.csv",
        [(2, None, "the file holds no rows under its headers")],
    ),
    "wrong columns": (
        csv_bytes([["a", "b"]], ["name", "identity"]),
        "list.csv",
        [(1, None, 'unknown columns: "name", "identity" (see the template for the column names)')],
    ),
    "a required column missing": (
        csv_bytes([case_row(1)], [h for h in HEADERS if h != "priority"]),
        "list.csv",
        [(1, None, 'required columns are missing: "Priority"')],
    ),
    "a column twice": (
        csv_bytes([case_row(1)], [*HEADERS, "Priority"]),
        "list.csv",
        [(1, "Priority", 'the column "Priority" is given twice')],
    ),
    "a bad date": (
        csv_bytes([case_row(1, date_of_birth="1980/05/17")]),
        "list.csv",
        [
            (
                2,
                "date_of_birth",
                "'1980/05/17' is not a date: write 04/02/2026 (day first) or 2026-02-04",
            )
        ],
    ),
    "a month-first date": (
        csv_bytes([case_row(1, referral_issued_on="02/13/2026")]),
        "list.csv",
        [(2, "referral_issued_on", "'02/13/2026' is not a date (day 2, month 13)")],
    ),
    "UTF-16 without its mark": (
        csv_bytes([case_row(1)], encoding="utf-16-le"),
        "list.csv",
        [
            (
                None,
                None,
                "the file is not text in UTF-8, UTF-16 or Windows-1256 (Arabic); save it "
                "again as CSV UTF-8 or as XLSX",
            )
        ],
    ),
    "a binary file named .csv": (
        bytes(range(256)) * 4,
        "list.csv",
        [
            (
                None,
                None,
                "the file is not text in UTF-8, UTF-16 or Windows-1256 (Arabic); save it "
                "again as CSV UTF-8 or as XLSX",
            )
        ],
    ),
    "a truncated workbook": (
        xlsx_bytes([case_row(1)])[:-200],
        "list.xlsx",
        [(None, None, "the file is not a readable XLSX workbook")],
    ),
    "a workbook with an external entity": (
        rewrite_part(xlsx_bytes([case_row(1)]), "xl/worksheets/sheet1.xml", with_xxe),
        "list.xlsx",
        [(None, None, "the workbook holds an XML document type declaration (DTD); it is refused")],
    ),
}


@pytest.mark.parametrize("case", BAD_FILES, ids=list(BAD_FILES))
def test_bad_file_is_refused_and_changes_nothing(case, coordinator, facility):
    data, name, expected = BAD_FILES[case]
    assert refusal(data, name, coordinator) == expected


def test_truncated_csv_names_the_cut_row_and_its_empty_cells(coordinator, facility):
    data = csv_bytes([case_row(1), case_row(2)])
    cut = data[: data.rindex(b"female")]  # the last row stops before its sex
    errors = refusal(cut, "list.csv", coordinator)
    assert (3, "sex", "this cell is required") in errors
    assert (3, "facility", "this cell is required") in errors


def test_zip_bomb_is_refused_before_it_is_unpacked(coordinator, facility, settings):
    settings.IMPORT_MAX_UNPACKED_BYTES = 8 * 1024 * 1024
    bomb = zip_bomb(16 * 1024 * 1024)
    assert len(bomb) < 100_000
    assert refusal(bomb, "list.xlsx", coordinator) == [
        (
            None,
            None,
            "the workbook would unpack to 16,777,224 bytes; at most 8,388,608 are accepted "
            "(a compressed archive that grows this much is refused)",
        )
    ]


def test_workbook_with_too_many_parts_is_refused(coordinator, facility, settings):
    settings.IMPORT_MAX_ARCHIVE_MEMBERS = 5
    ((row, column, message),) = refusal(xlsx_bytes([case_row(1)]), "list.xlsx", coordinator)
    assert (row, column) == (None, None)
    assert message.startswith("the workbook holds ") and message.endswith(
        " parts; at most 5 are accepted"
    )


def test_entities_are_refused_by_the_parser_too(facility):
    """Past the archive check (a DTD it would not see), openpyxl parses through defusedxml."""
    from defusedxml import DefusedXmlException
    from openpyxl.xml.functions import fromstring

    with pytest.raises(DefusedXmlException):
        fromstring(XXE + "<worksheet>&xxe;</worksheet>")


def test_file_over_the_size_limit_is_refused(coordinator, facility, settings):
    data = csv_bytes([case_row(n) for n in range(1, 4)])
    settings.IMPORT_MAX_BYTES = len(data) - 1
    ((row, column, message),) = refusal(data, "list.csv", coordinator)
    assert (row, column) == (None, None)
    assert message == f"the file is {len(data):,} bytes; at most {len(data) - 1:,} are accepted"


def test_file_over_the_row_limit_is_refused_at_the_first_row_too_many(
    coordinator, facility, settings
):
    settings.IMPORT_MAX_ROWS = 2
    data = csv_bytes([case_row(n) for n in range(1, 4)])
    assert refusal(data, "list.csv", coordinator) == [
        (4, None, "more than 2 rows; split the list into several files")
    ]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1256"], ids=lambda e: e)
def test_csv_encodings_read_the_same_arabic(encoding):
    data = csv_bytes([case_row(1)], encoding=encoding)
    table = open_table(io.BytesIO(data), name="list.csv")
    assert table.headers == HEADERS
    ((number, cells),) = list(table.rows)
    assert (number, cells[1], cells[12]) == (2, "أمل حداد", "عمر حداد")


@pytest.mark.parametrize("delimiter", [";", "\t"], ids=["semicolons", "tabs"])
def test_csv_separator_is_read_from_the_header_row(delimiter):
    data = csv_bytes([case_row(1, diagnosis="a, b, c; d")], delimiter=delimiter)
    table = open_table(io.BytesIO(data), name="list.csv")
    assert table.headers == HEADERS
    ((_number, cells),) = list(table.rows)
    assert cells[HEADERS.index("diagnosis")] == "a, b, c; d"


def test_rows_are_read_one_at_a_time():
    """A generator: the rows are parsed as they are asked for, never all held at once."""
    data = csv_bytes([case_row(1), case_row(2)])
    table = open_table(io.BytesIO(data), name="list.csv")
    first = next(table.rows)
    assert first[0] == 2
    broken = io.BytesIO(xlsx_bytes([case_row(1), case_row(2)]))
    workbook_rows = open_table(broken, name="list.xlsx").rows
    assert next(workbook_rows)[0] == 2


def test_file_refused_names_row_and_column():
    assert str(FileRefused("bad", row=3, column="Sex")) == 'row 3, column "Sex": bad'
