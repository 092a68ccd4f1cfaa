"""A clearance list for a submitted batch: recorded all or nothing through the bulk clearance
service, every row naming one person on the batch, the people it leaves out reported."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from batches import services
from batches.imports import import_clearance
from casetracker.audit.models import Action
from tests import factories
from tests.service_helpers import advance, world

from .files import csv_bytes, import_events, xlsx_bytes

HEADERS = ["national_id", "reference", "decision", "note"]


@pytest.fixture
def submitted(coordinator, facility, quota, ready_patient):
    """A submitted exit batch: patient `first` with a companion, patient `second` alone."""
    batch = factories.BatchFactory(staging_facility=facility)
    first, second = ready_patient(), ready_patient()
    companion = factories.CompanionFactory(patient=first)
    services.batch_add_patient(
        batch=batch, patient=first, companions=[companion], actor=coordinator
    )
    services.batch_add_patient(batch=batch, patient=second, actor=coordinator)
    batch = advance(batch, "submitted", coordinator)
    batch.first, batch.second, batch.companion = first, second, companion
    return batch


def clearances(batch) -> dict:
    return {
        (line.patient_id, line.companion_id): (line.clearance, line.clearance_note)
        for line in batch.members.all()
    }


def run(batch, actor, rows, *, headers=None, name="cleared.csv", dry_run=False):
    builder = xlsx_bytes if name.endswith(".xlsx") else csv_bytes
    data = builder(
        [dict(zip(headers or HEADERS, row, strict=True)) for row in rows], headers or HEADERS
    )
    return import_clearance(
        file=io.BytesIO(data), name=name, batch=batch, actor=actor, dry_run=dry_run
    )


def test_clearance_list_records_every_decision(submitted, coordinator):
    b = submitted
    rows = [
        ["", b.first.case_reference.lower(), "approved", ""],
        [f"{b.companion.national_id[:3]} {b.companion.national_id[3:]}", "", "مرفوض", "on a list"],
        [b.second.national_id, b.second.case_reference, "Approved", ""],
    ]
    result = run(b, coordinator, rows, name="cleared.xlsx")
    assert result.applied and not result.errors, result.errors
    assert result.decided == {"approved": 2, "rejected": 1}
    assert result.not_on_list == []
    assert clearances(b) == {
        (b.first.pk, None): ("approved", ""),
        (None, b.companion.pk): ("rejected", "on a list"),
        (b.second.pk, None): ("approved", ""),
    }
    (event,) = import_events()
    assert (event.subject_ref, event.batch_ref, event.details["applied"]) == (
        "clearance",
        b.code,
        True,
    )
    assert event.details["decided"] == {"approved": 2, "rejected": 1}
    clearance_events = type(event).objects.filter(batch_ref=b.code, action=Action.CLEARANCE)
    assert clearance_events.count() == 3


def test_clearance_list_reports_people_left_out(submitted, coordinator):
    b = submitted
    result = run(b, coordinator, [["", b.first.case_reference, "approved", ""]])
    assert result.applied
    assert result.not_on_list == sorted(
        [b.second.case_reference, f"companion #{b.companion.pk} of {b.first.case_reference}"]
    )
    assert import_events()[0].details["not_on_list"] == 2


def test_clearance_list_with_someone_not_on_the_batch_changes_nothing(submitted, coordinator):
    b = submitted
    stranger = factories.PatientFactory()
    before = world()
    result = run(
        b,
        coordinator,
        [
            ["", b.first.case_reference, "approved", ""],
            [stranger.national_id, "", "approved", ""],
            ["", b.first.case_reference, "rejected", ""],
            ["", b.second.case_reference, "maybe", "x" * 501],
            [b.second.national_id, b.first.case_reference, "approved", ""],
        ],
    )
    assert not result.applied
    assert [(e.row, e.column, e.message) for e in result.errors] == [
        (3, "national_id", f"not on batch {b.code}"),
        (4, "reference", "already named on row 2"),
        (5, "decision", "write approved or rejected"),
        (5, "note", "at most 500 characters, not 501"),
        (6, "reference", "the national ID and the reference name two people"),
    ]
    after = world()
    assert after.pop("events")[-1] == import_events()[0].pk  # only the import's own event
    before.pop("events")
    assert after == before


def test_clearance_list_for_a_batch_not_submitted_is_refused(
    coordinator, facility, quota, ready_patient
):
    batch = factories.BatchFactory(staging_facility=facility)
    patient = ready_patient()
    services.batch_add_patient(batch=batch, patient=patient, actor=coordinator)
    result = run(batch, coordinator, [["", patient.case_reference, "approved", ""]])
    assert not result.applied
    ((row, column, message),) = [(e.row, e.column, e.message) for e in result.errors]
    assert (row, column) == (None, None)
    assert "clearance is recorded only once it is submitted" in message


def test_clearance_list_dry_run_changes_nothing(submitted, coordinator):
    b = submitted
    before = world()
    result = run(b, coordinator, [["", b.first.case_reference, "approved", ""]], dry_run=True)
    assert not result.applied and not result.errors
    assert result.decided == {"approved": 1}
    before.pop("events")
    after = world()
    after.pop("events")
    assert after == before
    assert import_events()[0].details["dry_run"] is True


def test_import_clearance_command(submitted, coordinator, tmp_path):
    b = submitted
    path = tmp_path / "cleared.csv"
    path.write_bytes(
        csv_bytes([{"reference": b.first.case_reference, "decision": "approved"}], HEADERS)
    )
    out = io.StringIO()
    call_command(
        "import_clearance", str(path), "--batch", b.code, "--as", "coordinator", stdout=out
    )
    assert f"clearance list for {b.code}: 1 approved; saved." in out.getvalue()
    assert "2 on the batch but not on the list (still pending)" in out.getvalue()
    path.write_bytes(csv_bytes([{"reference": "EV-NOBODY", "decision": "approved"}], HEADERS))
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing was saved"):
        call_command(
            "import_clearance",
            str(path),
            "--batch",
            b.code,
            "--as",
            "coordinator",
            stdout=io.StringIO(),
            stderr=err,
        )
    assert f'row 2, column "reference": not on batch {b.code}' in err.getvalue()
