"""Patients moved between statuses by the batch services, one or many at once: every move is
checked against the declared transitions before any is written, then one UPDATE for them all,
however many patients move and to however many statuses."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients.models import Patient
from patients.services import patient_move, patients_move
from tests import factories
from tests.service_helpers import events_since, mark, notifications_since, refused

pytestmark = pytest.mark.django_db


def _updates(captured) -> list[str]:
    return [q["sql"] for q in captured if q["sql"].startswith('UPDATE "patients_patient"')]


def test_patients_move_writes_one_update_for_every_move(facility):
    first, second, third = factories.PatientFactory.create_batch(3, facility=facility)
    before = {p.pk: p.updated_at for p in (first, second, third)}
    since = mark()

    with CaptureQueriesContext(connection) as captured:
        old = patients_move(
            moves=[(first, "scheduled"), (second, "withdrawn"), (third, "scheduled")]
        )

    assert old == ["waiting"] * 3
    assert len(captured) == len(_updates(captured)) == 1
    rows = dict(Patient.objects.values_list("pk", "status"))
    assert rows == {first.pk: "scheduled", second.pk: "withdrawn", third.pk: "scheduled"}
    for patient in (first, second, third):
        stored = Patient.objects.get(pk=patient.pk).updated_at
        assert stored == patient.updated_at > before[patient.pk]
    # A move is part of the caller's step: the caller writes the event and the notifications.
    assert events_since(since) == notifications_since(since) == []


def test_patients_move_refuses_a_forbidden_move_before_writing_any(facility):
    waiting = factories.PatientFactory(facility=facility)
    evacuated = factories.PatientFactory(facility=facility, status="evacuated")

    with refused(match=f"patient {evacuated.case_reference} is evacuated and cannot become"):
        patients_move(moves=[(waiting, "scheduled"), (evacuated, "waiting")])


def test_patient_move_is_one_update(facility):
    patient = factories.PatientFactory(facility=facility)

    with CaptureQueriesContext(connection) as captured:
        assert patient_move(patient=patient, to="scheduled") == "waiting"

    assert len(captured) == len(_updates(captured)) == 1
    assert Patient.objects.get(pk=patient.pk).status == "scheduled"
