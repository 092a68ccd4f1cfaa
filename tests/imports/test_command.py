"""`manage.py import_cases`: a summary, and a non-zero exit naming each row and column refused."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from patients.models import Patient
from tests import factories

from .files import case_row, csv_bytes, import_events, xlsx_bytes


@pytest.fixture
def list_file(tmp_path):
    def write(data: bytes, name: str = "list.csv"):
        path = tmp_path / name
        path.write_bytes(data)
        return str(path)

    return write


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_cases", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_cases_command_dry_run_then_import(list_file, coordinator, facility):
    path = list_file(xlsx_bytes([case_row(1), case_row(2)]), "list.xlsx")
    out, _err = run(path, "--as", "coordinator", "--dry-run")
    assert "dry run: 2 to create, 0 to update, 0 refused; nothing saved." in out
    assert not Patient.objects.exists()
    out, _err = run(path, "--as", "coordinator")
    assert "import: 2 to create, 0 to update, 0 refused; saved." in out
    assert Patient.objects.count() == 2
    assert [e.details["dry_run"] for e in import_events()] == [True, False]
    assert {e.channel for e in import_events()} == {"command"}


def test_import_cases_command_fails_naming_rows_and_columns(list_file, coordinator, facility):
    path = list_file(csv_bytes([case_row(1), case_row(2, sex="x", date_of_birth="13/13/1990")]))
    with pytest.raises(CommandError, match="nothing was saved"):
        run(path, "--as", "coordinator")
    assert not Patient.objects.exists()


def test_import_cases_command_prints_each_error(list_file, coordinator, facility):
    path = list_file(csv_bytes([case_row(1, sex="x")]))
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_cases", path, "--as", "coordinator", stdout=io.StringIO(), stderr=err)
    assert "row 2, column \"sex\": 'x' is not one of: female, male" in err.getvalue()


def test_import_cases_command_updates_chosen_fields(list_file, coordinator, facility):
    held = factories.PatientFactory(national_id="900000001", facility=facility, priority="routine")
    path = list_file(csv_bytes([case_row(1, priority="critical")]))
    out, _err = run(path, "--as", "coordinator", "--update-fields", "priority")
    assert "0 to create, 1 to update" in out
    held.refresh_from_db()
    assert held.priority == "critical"


def test_import_cases_command_acts_only_as_a_coordinator_or_admin(list_file, nurse, facility):
    path = list_file(csv_bytes([case_row(1)]))
    with pytest.raises(CommandError, match="not an active coordinator or admin"):
        run(path, "--as", "nurse")
    assert not import_events()
