"""Ending a batch's lines costs one UPDATE of the lines however many there are (a cancelled
batch of 50 patients with their companions has 150), and one of the patients per status they
end in: the lines and their people end as they did when each was saved on its own."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from batches.services import batch_add_patient, batch_cancel, batch_cross
from casetracker.audit.models import Event
from casetracker.notifications.models import WebhookSubscription
from patients.models import Patient
from tests import factories
from tests.service_helpers import (
    advance,
    assert_event,
    mark,
    notifications_since,
    refused,
    the_event_since,
)

pytestmark = pytest.mark.django_db


def _line_updates(captured) -> list[str]:
    return [q["sql"] for q in captured if q["sql"].startswith('UPDATE "batches_batchmember"')]


@pytest.mark.parametrize("patients", [1, 4])
def test_batch_cancel_ends_every_line_in_one_update(
    coordinator, facility, quota, ready_patient, patients
):
    batch, people, captured = _cancel_batch_of(
        patients, coordinator=coordinator, facility=facility, ready_patient=ready_patient
    )

    assert len(_line_updates(captured)) == 1
    lines = batch.members.values_list("is_open", "end_reason", "outcome")
    assert list(lines) == [(False, "cancelled", "")] * (patients * 3)
    for patient in people:
        patient.refresh_from_db()
        assert patient.status == "waiting"
    event = Event.objects.get(subject_ref=batch.code, action="cancel")
    assert event.details == {
        "patients": patients,
        "companions": patients * 2,
        "returnees": 0,
        "relayed_by": "",
    }


def _patient_updates(captured) -> list[str]:
    return [q["sql"] for q in captured if q["sql"].startswith('UPDATE "patients_patient"')]


def _cancel_batch_of(patients: int, *, coordinator, facility, ready_patient, **fields):
    """A draft batch of `patients` ready patients (each with two companions), cancelled; returns
    the batch, its patients and the queries of the cancel."""
    batch = factories.BatchFactory(staging_facility=facility)
    people = []
    for _ in range(patients):
        patient = ready_patient(**fields)
        companions = factories.CompanionFactory.create_batch(2, patient=patient)
        batch_add_patient(batch=batch, patient=patient, companions=companions, actor=coordinator)
        people.append(patient)
    with CaptureQueriesContext(connection) as captured:
        batch_cancel(
            batch=batch,
            actor=coordinator,
            reason_code="weather",
            reason_text="sandstorm at the crossing",
            source="who",
        )
    return batch, people, captured


def test_batch_cancel_queries_do_not_grow_with_the_patients(
    coordinator, facility, quota, ready_patient
):
    counts = {}
    for patients in (1, 4, 8):
        _, people, captured = _cancel_batch_of(
            patients, coordinator=coordinator, facility=facility, ready_patient=ready_patient
        )
        counts[patients] = len(captured)
        # Every patient goes back to the queue in one UPDATE.
        assert len(_patient_updates(captured)) == 1
        assert {p.status for p in Patient.objects.filter(pk__in=[p.pk for p in people])} == {
            "waiting"
        }
    assert counts[1] == counts[4] == counts[8], counts


def test_batch_cancel_writes_the_same_event_and_notifications_for_every_patient(
    settings, coordinator, nurse, facility, quota, ready_patient
):
    settings.SMS_PROVIDER_URL = "http://127.0.0.1:9/sms"  # rows only: nothing is delivered
    hook = WebhookSubscription.objects.create(
        name="partner", url="http://127.0.0.1:9/hook", event_types=["batch.cancel"]
    )
    batch = factories.BatchFactory(staging_facility=facility)
    texting = ready_patient(phone="+970599000001", sms_consent=True, contact_language="en")
    silent = ready_patient(phone="+970599000002", sms_consent=False)
    arabic = ready_patient(phone=" +970599000003 ", sms_consent=True, contact_language="ar")
    for patient, companions in ((texting, 2), (silent, 0), (arabic, 1)):
        batch_add_patient(
            batch=batch,
            patient=patient,
            companions=factories.CompanionFactory.create_batch(companions, patient=patient),
            actor=coordinator,
        )
    registered = {p.pk: p.registered_at for p in (texting, silent, arabic)}
    since = mark()

    batch_cancel(
        batch=batch,
        actor=coordinator,
        reason_code="weather",
        reason_text="sandstorm at the crossing",
        source="who",
    )

    event = the_event_since(since)
    assert_event(
        event,
        action="cancel",
        subject_ref=batch.code,
        batch_ref=batch.code,
        from_state="draft",
        to_state="cancelled",
        actor=coordinator,
        details={"patients": 3, "companions": 3, "returnees": 0, "relayed_by": ""},
    )
    rows = sorted(
        (n.channel, n.recipient_id, n.address, n.language, n.payload, n.status, n.idempotency_key)
        for n in notifications_since(since)
    )
    staff = [
        ("inbox", user.pk, "", user.preferred_language, {}, "pending", f"user-{user.pk}")
        for user in (coordinator, nurse)
    ] + [
        ("email", user.pk, user.email, user.preferred_language, {}, "pending", f"user-{user.pk}")
        for user in (coordinator, nurse)
        if user.email
    ]
    texts = [
        ("sms", None, phone, language, {"case": ref}, "pending", f"case-{ref}")
        for phone, language, ref in (
            ("+970599000001", "en", texting.case_reference),
            ("+970599000003", "ar", arabic.case_reference),
        )
    ]
    cases = sorted(p.case_reference for p in (texting, silent, arabic))
    webhook = [
        ("webhook", None, hook.url, "en", {"cases": cases}, "pending", f"subscription-{hook.pk}")
    ]
    expected = [
        (channel, who, address, language, payload, status, f"event-{event.pk}-{channel}-{key}")
        for channel, who, address, language, payload, status, key in staff + texts + webhook
    ]
    assert rows == sorted(expected)
    moved = Patient.objects.filter(pk__in=registered).values_list("pk", "status", "registered_at")
    assert {pk: (status, at) for pk, status, at in moved} == {
        pk: ("waiting", at) for pk, at in registered.items()
    }


def test_batch_cancel_refuses_a_patient_who_cannot_go_back_and_changes_nothing(
    coordinator, facility, quota, ready_patient
):
    batch = factories.BatchFactory(staging_facility=facility)
    people = [ready_patient() for _ in range(3)]
    for patient in people:
        batch_add_patient(batch=batch, patient=patient, companions=[], actor=coordinator)
    # Only a repair of the data could leave an evacuated patient on an open line: the cancel
    # must then stop before it writes anything, naming that patient.
    Patient.objects.filter(pk=people[1].pk).update(status="evacuated")

    with refused(match=f"patient {people[1].case_reference} is evacuated and cannot become"):
        batch_cancel(
            batch=batch,
            actor=coordinator,
            reason_code="weather",
            reason_text="sandstorm at the crossing",
            source="who",
        )


def test_batch_cross_moves_the_patients_in_one_update(coordinator, facility, quota, ready_patient):
    batch = factories.BatchFactory(staging_facility=facility)
    people = [ready_patient() for _ in range(4)]
    for patient in people:
        batch_add_patient(batch=batch, patient=patient, companions=[], actor=coordinator)
    advance(batch, "in_transit", coordinator)
    outcome = dict(zip(people, ["crossed", "turned_back", "crossed", "no_show"], strict=True))
    lines = {line.patient_id: line.pk for line in batch.members.filter(is_open=True)}

    with CaptureQueriesContext(connection) as captured:
        batch_cross(
            batch=batch,
            actor=coordinator,
            outcomes={lines[p.pk]: outcome[p] for p in people},
        )

    assert len(_patient_updates(captured)) == 1
    statuses = dict(Patient.objects.filter(pk__in=lines).values_list("pk", "status"))
    assert statuses == {p.pk: "evacuated" if outcome[p] == "crossed" else "waiting" for p in people}
