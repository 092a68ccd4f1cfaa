"""Vehicles of a batch through the services: adding and removing ambulances and buses, putting
people in them within their seats and stretcher places, and the departure check. Every allowed
change writes one event (no notification); every refused one changes nothing."""

import contextlib

import pytest
from django.core.exceptions import ValidationError

from batches.models import BatchMember, Vehicle
from batches.services import (
    batch_add_patient,
    batch_clear,
    batch_depart,
    batch_record_clearance,
    vehicle_add,
    vehicle_assign,
    vehicle_remove,
)
from casetracker.errors import TransitionRefused
from patients.models import Patient
from tests import factories
from tests.service_helpers import (
    REGISTERED,
    advance,
    assert_event,
    events_since,
    mark,
    notifications_since,
    refused,
    the_event_since,
)


@pytest.fixture
def draft(facility):
    return factories.BatchFactory(staging_facility=facility)


@pytest.fixture
def add(coordinator, ready_patient, quota):
    """`add(batch, companions=0, **patient fields)`: a ready patient with new companions put on
    the batch through the service; returns the manifest lines, patient first."""

    def make(batch, companions=0, **fields):
        fields.setdefault("registered_at", REGISTERED)
        patient = ready_patient(**fields)
        people = [factories.CompanionFactory(patient=patient) for _ in range(companions)]
        return batch_add_patient(batch=batch, patient=patient, actor=coordinator, companions=people)

    return make


def vehicles_state() -> dict:
    return {
        "vehicles": list(
            Vehicle.objects.order_by("pk").values_list(
                "pk", "batch_id", "number", "kind", "label", "seats", "stretchers"
            )
        ),
        "seats": list(BatchMember.objects.order_by("pk").values_list("pk", "vehicle_id")),
    }


@contextlib.contextmanager
def unchanged(exc_type=TransitionRefused, match=None):
    """`refused` (nothing at all changed) plus the vehicles and who sits in which."""
    before = vehicles_state()
    with refused(exc_type, match=match) as info:
        yield info
    assert vehicles_state() == before


def vehicle_event(event, batch, action, actor, details):
    batch.refresh_from_db()
    assert_event(
        event,
        subject_type="batch",
        subject_ref=batch.code,
        batch_ref=batch.code,
        subject_facility_id=batch.staging_facility_id,
        action=action,
        from_state=batch.status,
        to_state=batch.status,
        actor_id=actor.pk,
        details=details,
    )


def seats_of(batch) -> dict[int, int | None]:
    return {
        line.pk: line.vehicle.number if line.vehicle_id else None
        for line in batch.members.select_related("vehicle")
    }


def ambulance(batch, actor, seats=2, stretchers=1, **kwargs):
    return vehicle_add(
        batch=batch, actor=actor, kind="ambulance", seats=seats, stretchers=stretchers, **kwargs
    )


def bus(batch, actor, seats=20, **kwargs):
    return vehicle_add(batch=batch, actor=actor, kind="bus", seats=seats, **kwargs)


# --- add ------------------------------------------------------------------------------------


def test_vehicle_add_numbers_vehicles_within_the_batch(draft, facility, coordinator, nurse):
    since = mark()
    first = ambulance(draft, coordinator, label="  PRCS-14 ")

    assert (first.number, first.kind, first.label, first.seats, first.stretchers) == (
        1,
        "ambulance",
        "PRCS-14",
        2,
        1,
    )
    assert first.name == "Ambulance 1"
    vehicle_event(
        the_event_since(since),
        draft,
        "vehicle_add",
        coordinator,
        {"vehicle": 1, "kind": "ambulance", "seats": 2, "stretchers": 1},
    )
    assert notifications_since(since) == []

    second = bus(draft, coordinator)
    assert (second.number, second.name, second.stretchers) == (2, "Bus 2", 0)
    # Numbers belong to a batch: another batch starts again at 1.
    other = factories.BatchFactory(staging_facility=facility)
    assert bus(other, coordinator).number == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": "helicopter", "seats": 4}, "kind"),
        ({"kind": "bus", "seats": -1}, "seats"),
        ({"kind": "bus", "seats": 500}, "seats"),
        ({"kind": "bus", "seats": "4"}, "seats"),
        ({"kind": "ambulance", "seats": 0, "stretchers": 0}, "seats"),
        ({"kind": "ambulance", "seats": 2, "stretchers": 9}, "stretchers"),
        ({"kind": "bus", "seats": 30, "stretchers": 1}, "stretchers"),
        ({"kind": "bus", "seats": 30, "label": "x" * 61}, "label"),
    ],
)
def test_vehicle_add_refuses_bad_input_beside_its_field(draft, coordinator, fields, field):
    with unchanged(ValidationError) as info:
        vehicle_add(batch=draft, actor=coordinator, **fields)
    assert set(info.value.message_dict) == {field}


@pytest.mark.parametrize("status", ["draft", "prepared", "submitted", "cleared"])
def test_vehicle_add_allowed_until_the_batch_leaves(draft, add, coordinator, status):
    add(draft)
    advance(draft, status, coordinator)
    assert bus(draft, coordinator).number == 1


@pytest.mark.parametrize("status", ["in_transit", "crossed", "cancelled"])
def test_vehicle_add_refused_once_the_batch_left_or_was_cancelled(draft, add, coordinator, status):
    add(draft)
    advance(draft, status, coordinator)
    with unchanged(match="vehicles can be changed only before it leaves"):
        bus(draft, coordinator)


# --- assign ---------------------------------------------------------------------------------


def test_vehicle_assign_puts_stretchers_and_seats_in_their_places(draft, add, coordinator):
    lying, sitting = add(draft, companions=1, needs_stretcher=True)
    [walking] = add(draft)
    ambulance(draft, coordinator, seats=1, stretchers=1)
    bus(draft, coordinator, seats=10)
    since = mark()

    changed = vehicle_assign(
        batch=draft,
        actor=coordinator,
        assignments={lying.pk: 1, sitting.pk: 1, walking.pk: 2},
    )

    assert {line.pk for line in changed} == {lying.pk, sitting.pk, walking.pk}
    assert seats_of(draft) == {lying.pk: 1, sitting.pk: 1, walking.pk: 2}
    vehicle_event(
        the_event_since(since),
        draft,
        "vehicle_assign",
        coordinator,
        {"changed": 3, "without_vehicle": 0, "people_per_vehicle": {"1": 2, "2": 1}},
    )
    assert notifications_since(since) == []


def test_vehicle_assign_moves_and_unassigns_and_keeps_lines_left_out(draft, add, coordinator):
    first, second = add(draft, companions=1)
    bus(draft, coordinator)
    bus(draft, coordinator)
    vehicle_assign(batch=draft, actor=coordinator, assignments={first.pk: 1, second.pk: 1})
    since = mark()

    changed = vehicle_assign(batch=draft, actor=coordinator, assignments={first.pk: 2})
    assert [line.pk for line in changed] == [first.pk]
    assert seats_of(draft) == {first.pk: 2, second.pk: 1}

    vehicle_assign(batch=draft, actor=coordinator, assignments={second.pk: None})
    assert seats_of(draft) == {first.pk: 2, second.pk: None}
    events = [e.details for e in events_since(since)]
    assert events == [
        {"changed": 1, "without_vehicle": 0, "people_per_vehicle": {"1": 1, "2": 1}},
        {"changed": 1, "without_vehicle": 1, "people_per_vehicle": {"2": 1}},
    ]


def test_vehicle_assign_that_changes_nothing_writes_no_event(draft, add, coordinator):
    [line] = add(draft)
    bus(draft, coordinator)
    vehicle_assign(batch=draft, actor=coordinator, assignments={line.pk: 1})
    since = mark()
    assert vehicle_assign(batch=draft, actor=coordinator, assignments={line.pk: 1}) == []
    assert events_since(since) == []


def test_vehicle_assign_refuses_unknown_lines_and_vehicles_naming_each(
    draft, add, facility, coordinator
):
    [line] = add(draft)
    other = factories.BatchFactory(staging_facility=facility)
    [stranger] = add(other)
    bus(draft, coordinator)
    with unchanged(ValidationError) as info:
        vehicle_assign(
            batch=draft,
            actor=coordinator,
            assignments={line.pk: 1, stranger.pk: 1, 999999: 1, "x": None},
        )
    with unchanged(ValidationError) as second:
        vehicle_assign(batch=draft, actor=coordinator, assignments={line.pk: 7})
    assert info.value.message_dict == {
        "assignments": [
            f"Line {stranger.pk} is not on batch {draft.code}.",
            f"Line 999999 is not on batch {draft.code}.",
            f"Line x is not on batch {draft.code}.",
        ]
    }
    assert second.value.message_dict == {"assignments": [f"Batch {draft.code} has no vehicle 7."]}


def test_vehicle_assign_refuses_a_line_no_longer_travelling(draft, add, coordinator):
    patient, companion = add(draft, companions=1)
    advance(draft, "submitted", coordinator)
    batch_record_clearance(batch=draft, member=patient, clearance="approved", actor=coordinator)
    batch_record_clearance(batch=draft, member=companion, clearance="rejected", actor=coordinator)
    batch_clear(batch=draft, actor=coordinator)
    bus(draft, coordinator)
    with unchanged(ValidationError) as info:
        vehicle_assign(batch=draft, actor=coordinator, assignments={companion.pk: 1})
    assert info.value.messages == [
        f"Line {companion.pk} no longer travels with batch {draft.code}."
    ]


def test_vehicle_assign_refuses_more_stretchers_than_places(draft, add, coordinator):
    [first] = add(draft, needs_stretcher=True)
    [second] = add(draft, needs_incubator=True)
    ambulance(draft, coordinator, seats=4, stretchers=1)
    with unchanged() as info:
        vehicle_assign(batch=draft, actor=coordinator, assignments={first.pk: 1, second.pk: 1})
    assert info.value.problems == ["Ambulance 1 has 1 stretcher place, 2 patients need one."]


def test_vehicle_assign_refuses_more_people_than_seats(draft, add, coordinator):
    lines = add(draft, companions=2)
    bus(draft, coordinator, seats=2)
    with unchanged() as info:
        vehicle_assign(batch=draft, actor=coordinator, assignments={line.pk: 1 for line in lines})
    assert info.value.problems == ["Bus 1 has 2 seats, 3 people need one."]


@pytest.mark.parametrize(
    ("need", "label"),
    [
        ("needs_stretcher", "needs stretcher"),
        ("needs_incubator", "needs incubator"),
        ("needs_oxygen", "needs oxygen"),
        ("needs_escort_nurse", "needs escort nurse"),
    ],
)
def test_vehicle_assign_puts_patients_with_care_needs_in_an_ambulance(
    draft, add, coordinator, need, label
):
    [line] = add(draft, **{need: True})
    bus(draft, coordinator)
    ambulance(draft, coordinator)
    ref = line.patient.case_reference
    with unchanged() as info:
        vehicle_assign(batch=draft, actor=coordinator, assignments={line.pk: 1})
    assert info.value.problems[0] == (
        f"Patient {ref} ({label}) needs an ambulance, not a bus: Bus 1."
    )
    vehicle_assign(batch=draft, actor=coordinator, assignments={line.pk: 2})
    assert seats_of(draft) == {line.pk: 2}


def test_vehicle_assign_lets_wheelchair_users_and_companions_take_the_bus(draft, add, coordinator):
    lines = add(draft, companions=1, needs_wheelchair=True)
    bus(draft, coordinator)
    vehicle_assign(batch=draft, actor=coordinator, assignments={line.pk: 1 for line in lines})
    assert set(seats_of(draft).values()) == {1}


def test_vehicle_assign_names_every_problem_and_changes_nothing(draft, add, coordinator):
    [oxygen] = add(draft, needs_oxygen=True)
    lying = [add(draft, needs_stretcher=True)[0] for _ in range(2)]
    [fine] = add(draft)
    bus(draft, coordinator, seats=1)
    ambulance(draft, coordinator, seats=1, stretchers=1)
    with unchanged() as info:
        vehicle_assign(
            batch=draft,
            actor=coordinator,
            assignments={oxygen.pk: 1, fine.pk: 1, lying[0].pk: 2, lying[1].pk: 2},
        )
    assert info.value.problems == [
        f"Patient {oxygen.patient.case_reference} (needs oxygen) needs an ambulance, not a bus: "
        "Bus 1.",
        "Bus 1 has 1 seat, 2 people need one.",
        "Ambulance 2 has 1 stretcher place, 2 patients need one.",
    ]


def test_vehicle_assign_counts_open_lines_only(draft, add, coordinator):
    patient, companion = add(draft, companions=1)
    [other] = add(draft)
    bus(draft, coordinator, seats=2)
    vehicle_assign(batch=draft, actor=coordinator, assignments={patient.pk: 1, companion.pk: 1})
    advance(draft, "submitted", coordinator)
    batch_record_clearance(batch=draft, member=patient, clearance="approved", actor=coordinator)
    batch_record_clearance(batch=draft, member=other, clearance="approved", actor=coordinator)
    batch_record_clearance(batch=draft, member=companion, clearance="rejected", actor=coordinator)
    batch_clear(batch=draft, actor=coordinator)

    # The companion not cleared to travel still points at Bus 1, but no longer takes a seat.
    vehicle_assign(batch=draft, actor=coordinator, assignments={other.pk: 1})
    assert seats_of(draft) == {patient.pk: 1, companion.pk: 1, other.pk: 1}


@pytest.mark.parametrize("status", ["in_transit", "crossed", "cancelled"])
def test_vehicle_assign_refused_once_the_batch_left_or_was_cancelled(
    draft, add, coordinator, status
):
    [line] = add(draft)
    bus(draft, coordinator)
    vehicle_assign(batch=draft, actor=coordinator, assignments={line.pk: 1})
    advance(draft, status, coordinator)
    with unchanged(match="vehicles can be changed only before it leaves"):
        vehicle_assign(batch=draft, actor=coordinator, assignments={line.pk: None})


# --- remove ---------------------------------------------------------------------------------


def test_vehicle_remove_leaves_its_people_without_a_vehicle(draft, add, coordinator):
    lines = add(draft, companions=1)
    bus(draft, coordinator)
    second = bus(draft, coordinator)
    vehicle_assign(batch=draft, actor=coordinator, assignments={line.pk: 2 for line in lines})
    since = mark()

    vehicle_remove(batch=draft, vehicle=second, actor=coordinator)

    assert list(draft.vehicles.values_list("number", flat=True)) == [1]
    assert set(seats_of(draft).values()) == {None}
    vehicle_event(
        the_event_since(since),
        draft,
        "vehicle_remove",
        coordinator,
        {"vehicle": 2, "kind": "bus", "unassigned": 2},
    )
    # The next vehicle takes the next number after the highest one left.
    assert bus(draft, coordinator).number == 2


def test_vehicle_remove_refuses_a_vehicle_of_another_batch(draft, facility, coordinator):
    other = factories.BatchFactory(staging_facility=facility)
    theirs = bus(other, coordinator)
    with unchanged(ValidationError) as info:
        vehicle_remove(batch=draft, vehicle=theirs, actor=coordinator)
    assert set(info.value.message_dict) == {"vehicle"}


@pytest.mark.parametrize("status", ["in_transit", "cancelled"])
def test_vehicle_remove_refused_once_the_batch_left_or_was_cancelled(
    draft, add, coordinator, status
):
    [line] = add(draft)
    vehicle = bus(draft, coordinator)
    vehicle_assign(batch=draft, actor=coordinator, assignments={line.pk: 1})
    advance(draft, status, coordinator)
    with unchanged(match="vehicles can be changed only before it leaves"):
        vehicle_remove(batch=draft, vehicle=vehicle, actor=coordinator)


# --- depart ---------------------------------------------------------------------------------


def test_batch_depart_refused_while_people_have_no_vehicle(draft, add, coordinator):
    patient, companion = add(draft, companions=1)
    [other] = add(draft)
    bus(draft, coordinator)
    vehicle_assign(batch=draft, actor=coordinator, assignments={patient.pk: 1})
    advance(draft, "cleared", coordinator)
    with unchanged() as info:
        batch_depart(batch=draft, actor=coordinator)
    assert info.value.problems == ["2 people have no vehicle."]

    vehicle_assign(batch=draft, actor=coordinator, assignments={companion.pk: 1, other.pk: 1})
    assert batch_depart(batch=draft, actor=coordinator).status == "in_transit"


def test_batch_depart_checks_needs_changed_since_the_seats_were_assigned(draft, add, coordinator):
    [line] = add(draft)
    bus(draft, coordinator)
    vehicle_assign(batch=draft, actor=coordinator, assignments={line.pk: 1})
    advance(draft, "cleared", coordinator)
    # Setup only: the patient's needs were updated after the seats were assigned.
    Patient.objects.filter(pk=line.patient_id).update(needs_oxygen=True)
    with unchanged() as info:
        batch_depart(batch=draft, actor=coordinator)
    assert info.value.problems == [
        f"Patient {line.patient.case_reference} (needs oxygen) needs an ambulance, not a bus: "
        "Bus 1."
    ]


def test_batch_depart_without_any_vehicle_recorded_still_departs(draft, add, coordinator):
    add(draft, companions=1)
    advance(draft, "cleared", coordinator)
    assert batch_depart(batch=draft, actor=coordinator).status == "in_transit"


def test_batch_depart_one_person_without_a_vehicle_reads_singular(draft, add, coordinator):
    [line] = add(draft)
    bus(draft, coordinator)
    advance(draft, "cleared", coordinator)
    with unchanged(match="1 person has no vehicle"):
        batch_depart(batch=draft, actor=coordinator)
    assert seats_of(draft) == {line.pk: None}
