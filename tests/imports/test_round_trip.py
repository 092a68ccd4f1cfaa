"""Export the waiting queue in the template's columns, import it again: the same cases."""

import io

import pytest

from casetracker.exports import to_csv, to_xlsx
from patients.imports.cases import UPDATABLE, UPDATE, import_cases
from patients.imports.queue_export import queue_export_columns, queue_export_rows
from patients.imports.reading import open_table
from patients.imports.rows import Layout

from .files import case_row, csv_bytes, database_state


def parsed(data: bytes, name: str, actor) -> dict[str, tuple]:
    """Each row of a file as the import reads it, by national ID."""
    table = open_table(io.BytesIO(data), name=name)
    layout = Layout(table.headers, actor=actor)
    rows = {}
    for number, cells in table.rows:
        row = layout.parse(number, cells)
        assert not row.errors, row.errors
        rows[row.patient["national_id"]] = (row.patient, row.companions, row.referral)
    return rows


@pytest.mark.parametrize(("build", "name"), [(to_csv, "queue.csv"), (to_xlsx, "queue.xlsx")])
def test_export_then_import_gives_the_same_cases(build, name, coordinator, facility):
    two = {
        "companion2_" + key[len("companion1_") :]: value
        for key, value in case_row(9).items()
        if key.startswith("companion1_")
    }
    two["companion2_national_id"] = "800000099"
    alone = {key: "" for key in case_row(3) if key.startswith(("companion", "referral"))}
    rows = [
        case_row(1, diagnosis="stage III", priority="critical"),
        case_row(2, **two),
        case_row(3, **alone, needs_oxygen="no"),
    ]
    original = csv_bytes(rows, [*rows[1]])
    assert import_cases(
        file=io.BytesIO(original), name="list.csv", actor=coordinator, dry_run=False
    ).applied

    kwargs = {"title": "queue"} if name.endswith(".xlsx") else {}
    exported = build(queue_export_columns(), list(queue_export_rows(coordinator)), **kwargs)

    before, after = parsed(original, "list.csv", coordinator), parsed(exported, name, coordinator)
    assert set(after) == set(before)
    for number, (patient, companions, referral) in before.items():
        again = after[number]
        assert {key: again[0][key] for key in patient} == patient
        assert (again[1], again[2]) == (companions, referral)

    # Imported again, choosing every field: every row finds its case and changes nothing.
    state = database_state()
    result = import_cases(
        file=io.BytesIO(exported),
        name=name,
        actor=coordinator,
        dry_run=False,
        update_fields=set(UPDATABLE),
    )
    assert [(row.outcome, row.changed, row.errors) for row in result.rows] == [(UPDATE, [], [])] * 3
    assert database_state() == state


def test_queue_export_hides_the_diagnosis_from_auditors(coordinator, auditor, facility):
    data = csv_bytes([case_row(1, diagnosis="stage III")])
    import_cases(file=io.BytesIO(data), name="list.csv", actor=coordinator, dry_run=False)
    (row,) = queue_export_rows(auditor)
    # ID numbers as auditors see them on every page: the last four digits.
    assert row["diagnosis"] is None and row["national_id"] == "•••••0001"
    (row,) = queue_export_rows(coordinator)
    assert row["diagnosis"] == "stage III"


def test_queue_export_is_scoped_to_the_nurse_facility(coordinator, nurse, other_nurse, facility):
    data = csv_bytes([case_row(1)])
    import_cases(file=io.BytesIO(data), name="list.csv", actor=coordinator, dry_run=False)
    assert len(list(queue_export_rows(nurse))) == 1
    assert list(queue_export_rows(other_nurse)) == []
