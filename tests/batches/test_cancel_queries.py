"""Ending a batch's lines costs one UPDATE of the lines however many there are (a cancelled
batch of 50 patients with their companions has 150): the lines and their people end as they
did when each line was saved on its own."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from batches.services import batch_add_patient, batch_cancel
from tests import factories
from tests.service_helpers import mark, the_event_since

pytestmark = pytest.mark.django_db


def _line_updates(captured) -> list[str]:
    return [q["sql"] for q in captured if q["sql"].startswith('UPDATE "batches_batchmember"')]


@pytest.mark.parametrize("patients", [1, 4])
def test_batch_cancel_ends_every_line_in_one_update(
    coordinator, facility, quota, ready_patient, patients
):
    batch = factories.BatchFactory(staging_facility=facility)
    people = []
    for _ in range(patients):
        patient = ready_patient()
        companions = factories.CompanionFactory.create_batch(2, patient=patient)
        batch_add_patient(batch=batch, patient=patient, companions=companions, actor=coordinator)
        people.append(patient)
    since = mark()

    with CaptureQueriesContext(connection) as captured:
        batch_cancel(
            batch=batch,
            actor=coordinator,
            reason_code="weather",
            reason_text="sandstorm at the crossing",
            source="who",
        )

    assert len(_line_updates(captured)) == 1
    lines = batch.members.values_list("is_open", "end_reason", "outcome")
    assert list(lines) == [(False, "cancelled", "")] * (patients * 3)
    for patient in people:
        patient.refresh_from_db()
        assert patient.status == "waiting"
    event = the_event_since(since)
    assert (event.action, event.subject_ref) == ("cancel", batch.code)
    assert event.details == {
        "patients": patients,
        "companions": patients * 2,
        "returnees": 0,
        "relayed_by": "",
    }
