"""The batch builder's proposal (batches/proposal/) and saving a draft in one go
(`batch_create_draft`): who is proposed, in which order, with which companions, who is skipped
and why, within the places of the day's quota."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.formats import date_format

from batches.models import Batch, BatchMember
from batches.proposal import Reason, propose
from batches.proposal import walk as proposal_walk
from batches.services import (
    batch_add_patient,
    batch_add_returnee,
    batch_create_draft,
    batch_prepare,
)
from casetracker.audit.models import Event
from casetracker.errors import TransitionRefused
from patients.models import Readiness
from patients.services import readiness_update
from tests import factories
from tests.service_helpers import (
    REGISTERED,
    advance,
    born,
    events_since,
    mark,
    notifications_since,
    refused,
)


@pytest.fixture
def day(today):
    return today + dt.timedelta(days=1)


@pytest.fixture
def quota_of(day):
    """`quota_of(patients, companions)`: the agreed exit numbers for `day`."""

    def make(patients=50, companions=100, direction="exit", on=None):
        return factories.QuotaFactory(
            date=on or day,
            direction=direction,
            agreed_patients=patients,
            # A return quota has no companions.
            agreed_companions=companions if direction == "exit" else 0,
        )

    return make


@pytest.fixture
def patient(ready_patient):
    """`patient(minutes=0, companions=0, **fields)`: a ready waiting patient registered
    `minutes` after REGISTERED, with new adult companions."""

    def make(minutes=0, companions=0, **fields):
        fields.setdefault("registered_at", REGISTERED + dt.timedelta(minutes=minutes))
        person = ready_patient(**fields)
        for _ in range(companions):
            factories.CompanionFactory(patient=person)
        return person

    return make


def short(day: dt.date) -> str:
    return date_format(day, "SHORT_DATE_FORMAT")


def run(user, day, direction="exit", **kwargs):
    return propose(user=user, crossing="rafah", direction=direction, day=day, **kwargs)


def refs(people) -> list[str]:
    return [p.reference for p in people]


def reasons_of(result, person) -> list[tuple[str, str]]:
    for skipped in result.skipped:
        if skipped.person.pk == person.pk and type(skipped.person) is type(person):
            return [(why.code, why.text) for why in skipped.reasons]
    raise AssertionError(f"{person} was not skipped")


# --- Order and places ---------------------------------------------------------------------


def test_propose_takes_patients_in_queue_order(coordinator, day, quota_of, patient):
    quota_of(patients=10)
    routine = patient(minutes=0, priority="routine")
    urgent_late = patient(minutes=20, priority="urgent")
    urgent_early = patient(minutes=10, priority="urgent")
    critical = patient(minutes=30, priority="critical")

    result = run(coordinator, day)

    expected = [critical, urgent_early, urgent_late, routine]
    assert refs(result.patients) == [p.case_reference for p in expected]
    assert result.skipped == []
    assert (result.people, result.companions) == (4, 0)
    assert result.places_after() == (6, 100)


def test_propose_stops_when_patient_places_are_taken(coordinator, day, quota_of, patient):
    quota_of(patients=2)
    first, second, third = (patient(minutes=m) for m in (0, 1, 2))

    result = run(coordinator, day)

    assert refs(result.patients) == [first.case_reference, second.case_reference]
    assert reasons_of(result, third) == [
        (Reason.QUOTA_FULL, "Quota full: no patient places left that day.")
    ]
    assert result.places_after() == (0, 100)


def test_propose_counts_places_held_by_prepared_batches(
    coordinator, day, quota_of, patient, facility
):
    quota_of(patients=3, companions=5)
    held = factories.BatchFactory(staging_facility=facility, planned_date=day)
    batch_add_patient(batch=held, patient=patient(minutes=0), actor=coordinator)
    advance(held, "prepared", coordinator)
    a, b, c = (patient(minutes=m) for m in (1, 2, 3))

    result = run(coordinator, day)

    assert result.places.patients == 2
    assert refs(result.patients) == [a.case_reference, b.case_reference]
    assert reasons_of(result, c)[0][0] == Reason.QUOTA_FULL


def test_propose_skips_a_patient_whose_companions_do_not_fit(coordinator, day, quota_of, patient):
    quota_of(patients=5, companions=1)
    with_two = patient(minutes=0, companions=2)
    alone = patient(minutes=1)
    with_one = patient(minutes=2, companions=1)

    result = run(coordinator, day)

    assert refs(result.patients) == [alone.case_reference, with_one.case_reference]
    assert reasons_of(result, with_two) == [
        (Reason.QUOTA_FULL, "Quota full: needs 2 companion places, 1 left.")
    ]
    assert result.places_after() == (3, 0)


def test_propose_without_a_quota_proposes_nobody(coordinator, day, patient):
    patient()

    result = run(coordinator, day)

    assert result.places is None and result.patients == [] and result.skipped == []
    assert [n.code for n in result.notes] == [Reason.NO_QUOTA]
    assert "No quota is agreed" in result.notes[0].text
    assert result.places_after() is None


def test_propose_reads_only_the_quota_of_that_direction_and_day(
    coordinator, day, quota_of, patient
):
    quota_of(direction="return")
    quota_of(on=day + dt.timedelta(days=1))
    patient()
    assert run(coordinator, day).places is None


# --- Companions ---------------------------------------------------------------------------


def test_propose_takes_companions_guardian_first_within_the_limit(
    coordinator, day, quota_of, patient, settings
):
    quota_of()
    child = patient(date_of_birth=born(9, day))
    uncle = factories.CompanionFactory(patient=child, relationship="uncle")
    aunt = factories.CompanionFactory(patient=child, relationship="aunt")
    mother = factories.CompanionFactory(patient=child, relationship="mother", is_guardian=True)

    result = run(coordinator, day)

    (proposed,) = result.patients
    assert proposed.is_child and proposed.age == 9
    assert [(c.companion, c.proposed) for c in proposed.companions] == [
        (mother, True),
        (uncle, True),
        (aunt, False),
    ]
    assert proposed.travelling == [mother, uncle]
    assert result.companions == 2

    settings.MAX_COMPANIONS_PER_PATIENT = 1
    (proposed,) = run(coordinator, day).patients
    assert proposed.travelling == [mother]


def test_propose_prefers_an_adult_guardian_to_a_minor_one(coordinator, day, quota_of, patient):
    quota_of()
    child = patient(date_of_birth=born(8, day))
    minor = factories.CompanionFactory(patient=child, is_guardian=True, date_of_birth=born(16, day))
    factories.CompanionFactory(patient=child)
    adult = factories.CompanionFactory(patient=child, is_guardian=True)

    (proposed,) = run(coordinator, day).patients

    assert proposed.travelling == [adult, minor]


# --- Each reason a patient is skipped -----------------------------------------------------


def test_propose_skips_a_patient_without_any_referral(coordinator, day, quota_of, facility):
    quota_of()
    lonely = factories.PatientFactory(facility=facility)

    result = run(coordinator, day)

    assert result.patients == []
    assert reasons_of(result, lonely) == [
        (Reason.NO_VALID_REFERRAL, f"No approved referral valid on {short(day)}.")
    ]


def test_propose_says_the_referral_expires_before_the_day(coordinator, day, quota_of, patient):
    quota_of()
    late = patient()
    late.referrals.update(expires_on=day - dt.timedelta(days=1))

    ((code, text),) = reasons_of(run(coordinator, day), late)

    assert code == Reason.NO_VALID_REFERRAL
    expiry = day - dt.timedelta(days=1)
    assert text == f"The approved referral expires on {short(expiry)}, before {short(day)}."


def test_propose_says_the_referral_is_pending(coordinator, day, quota_of, facility):
    quota_of()
    waiting = factories.PatientFactory(facility=facility)
    factories.ReferralFactory(patient=waiting, status="pending")

    assert reasons_of(run(coordinator, day), waiting) == [
        (Reason.NO_VALID_REFERRAL, "The referral is still waiting for approval.")
    ]


def test_propose_names_the_readiness_items_missing(coordinator, nurse, day, quota_of, patient):
    quota_of()
    unready = patient(companions=1)
    readiness_update(patient=unready, actor=nurse, fit_to_travel=False, companions_present=False)
    alone = patient(minutes=1)
    readiness_update(patient=alone, actor=nurse, companions_present=False, documents_ready=False)

    result = run(coordinator, day)

    labels = Readiness.label("fit_to_travel"), Readiness.label("companions_present")
    assert reasons_of(result, unready) == [
        (Reason.NOT_READY, f"Not ready yet: {labels[0]}, {labels[1]}.")
    ]
    # Companions need to be present only when some travel.
    assert reasons_of(result, alone) == [
        (Reason.NOT_READY, f"Not ready yet: {Readiness.label('documents_ready')}.")
    ]


def test_propose_skips_a_child_without_an_adult_guardian(coordinator, day, quota_of, patient):
    quota_of()
    alone = patient(date_of_birth=born(10, day), companions=1)
    minor_guardian = patient(minutes=1, date_of_birth=born(10, day))
    factories.CompanionFactory(
        patient=minor_guardian, is_guardian=True, date_of_birth=born(17, day)
    )
    guarded = patient(minutes=2, date_of_birth=born(10, day))
    factories.CompanionFactory(patient=guarded, is_guardian=True)
    # 18 on the day itself: an adult, who needs no guardian.
    of_age = patient(minutes=3, date_of_birth=born(18, day))

    result = run(coordinator, day)

    assert refs(result.patients) == [guarded.case_reference, of_age.case_reference]
    why = (Reason.CHILD_WITHOUT_GUARDIAN, "A child, and no adult guardian travels with them.")
    assert reasons_of(result, alone) == [why]
    assert reasons_of(result, minor_guardian) == [why]


def test_propose_skips_a_patient_on_another_batch_naming_it(
    coordinator, day, quota_of, patient, facility
):
    quota_of()
    other = factories.BatchFactory(staging_facility=facility, planned_date=day + dt.timedelta(2))
    booked = patient()
    batch_add_patient(batch=other, patient=booked, actor=coordinator)
    free = patient(minutes=1)

    result = run(coordinator, day)

    assert refs(result.patients) == [free.case_reference]
    assert reasons_of(result, booked) == [
        (Reason.ON_ANOTHER_BATCH, f"Already on batch {other.code}.")
    ]
    # On a page the code stays on one line.
    (why,) = result.skipped[0].reasons
    assert why.html == f'Already on batch <bdi class="code">{other.code}</bdi>.'


def test_propose_lists_every_reason_of_a_patient(coordinator, nurse, day, quota_of, facility):
    quota_of()
    child = factories.PatientFactory(facility=facility, date_of_birth=born(5, day))
    readiness_update(patient=child, actor=nurse, transport_confirmed=False)

    codes = [code for code, _ in reasons_of(run(coordinator, day), child)]

    assert codes == [Reason.NO_VALID_REFERRAL, Reason.NOT_READY, Reason.CHILD_WITHOUT_GUARDIAN]


def test_propose_leaves_out_people_who_no_longer_wait(coordinator, day, quota_of, patient):
    quota_of()
    gone = patient()
    gone.status = "evacuated"
    gone.save()
    assert run(coordinator, day).looked_at == 0


def test_propose_shows_a_nurse_only_their_facility(nurse, day, quota_of, patient, other_facility):
    quota_of()
    own = patient()
    patient(minutes=1, facility=other_facility)
    assert refs(run(nurse, day).patients) == [own.case_reference]


# --- The walk is bounded ------------------------------------------------------------------


def test_propose_stops_looking_soon_after_the_places_are_taken(
    coordinator, day, quota_of, patient, monkeypatch
):
    monkeypatch.setattr(proposal_walk, "LOOK_AFTER_FULL", 3)
    quota_of(patients=2)
    for minutes in range(8):
        patient(minutes=minutes)

    result = run(coordinator, day)

    assert (len(result.patients), len(result.skipped), result.looked_at) == (2, 3, 5)
    assert not result.truncated


def test_propose_looks_at_no_more_than_the_limit(
    coordinator, nurse, day, quota_of, patient, monkeypatch
):
    monkeypatch.setattr(proposal_walk, "SCAN_LIMIT", 6)
    monkeypatch.setattr(proposal_walk, "CHUNK", 4)
    quota_of()
    for minutes in range(8):
        unfit = patient(minutes=minutes)
        readiness_update(patient=unfit, actor=nurse, fit_to_travel=False)

    result = run(coordinator, day)

    assert (len(result.patients), len(result.skipped), result.looked_at) == (0, 6, 6)
    assert result.truncated
    assert [n.code for n in result.notes] == [Reason.LIMIT_REACHED]


def _queries(user, day) -> int:
    with CaptureQueriesContext(connection) as queries:
        result = run(user, day)
        # What the page reads of each person is loaded already.
        shown = [
            (
                p.patient.mobility_needs(),
                p.patient.facility.code,
                *(c.companion.relationship for c in p.companions),
            )
            for p in result.patients
        ]
        shown += [s.reference for s in result.skipped]
    assert shown
    return len(queries)


def _varied_patients(patient, nurse, facility, coordinator, day, start: int, count: int):
    """Patients of every kind: ready with companions, unready, expired, a child, on a batch."""
    other = factories.BatchFactory(staging_facility=facility, planned_date=day)
    for i in range(start, start + count):
        person = patient(minutes=i, companions=i % 3)
        match i % 5:
            case 1:
                readiness_update(patient=person, actor=nurse, documents_ready=False)
            case 2:
                person.referrals.update(expires_on=day - dt.timedelta(days=1))
            case 3:
                factories.CompanionFactory(patient=person, is_guardian=True)
            case 4:
                batch_add_patient(batch=other, patient=person, actor=coordinator)


def test_propose_query_count_does_not_grow_with_the_queue(
    coordinator, nurse, day, quota_of, patient, facility
):
    quota_of(patients=100, companions=200)
    _varied_patients(patient, nurse, facility, coordinator, day, 0, 5)
    few = _queries(coordinator, day)
    _varied_patients(patient, nurse, facility, coordinator, day, 5, 30)
    many = _queries(coordinator, day)
    assert run(coordinator, day).looked_at == 35
    assert few == many


# --- Return batches -----------------------------------------------------------------------


def test_propose_return_takes_returnees_in_registration_order(coordinator, day, quota_of, facility):
    quota_of(direction="return", patients=2)
    later = factories.ReturneeFactory(registered_at=REGISTERED + dt.timedelta(hours=1))
    first = factories.ReturneeFactory(registered_at=REGISTERED)
    booked = factories.ReturneeFactory(registered_at=REGISTERED - dt.timedelta(hours=1))
    other = factories.BatchFactory(staging_facility=facility, direction="return", planned_date=day)
    batch_add_returnee(batch=other, returnee=booked, actor=coordinator)
    last = factories.ReturneeFactory(registered_at=REGISTERED + dt.timedelta(hours=2))

    result = run(coordinator, day, direction="return")

    assert refs(result.returnees) == [first.reference, later.reference]
    assert result.patients == []
    assert reasons_of(result, booked) == [
        (Reason.ON_ANOTHER_BATCH, f"Already on batch {other.code}.")
    ]
    assert reasons_of(result, last) == [
        (Reason.QUOTA_FULL, "Quota full: no returnee places left that day.")
    ]
    assert result.places_after() == (0, 0)  # a return quota has no companions


def test_propose_return_shows_hospital_staff_nobody(nurse, day, quota_of):
    quota_of(direction="return")
    factories.ReturneeFactory()
    result = run(nurse, day, direction="return")
    assert result.returnees == [] and result.skipped == []


# --- The same rules as prepare ------------------------------------------------------------


def test_proposed_batch_passes_prepare(coordinator, day, quota_of, patient, facility):
    quota_of(patients=3, companions=3)
    child = patient(date_of_birth=born(6, day), companions=1)
    factories.CompanionFactory(patient=child, is_guardian=True)
    patient(minutes=1, companions=2)
    patient(minutes=2)
    patient(minutes=3)
    result = run(coordinator, day, staging_facility=facility)

    batch = batch_create_draft(
        actor=coordinator,
        crossing="rafah",
        direction="exit",
        planned_date=day,
        staging_facility=facility,
        patients=[(p.patient, p.travelling) for p in result.patients],
    )

    assert batch_prepare(batch=batch, actor=coordinator).status == "prepared"


# --- Saving a draft in one go -------------------------------------------------------------


def test_batch_create_draft_writes_lines_in_the_order_given(coordinator, day, patient, facility):
    first, second = patient(companions=2), patient(minutes=1)
    companions = list(first.companions.all())
    since = mark()

    batch = batch_create_draft(
        actor=coordinator,
        crossing="rafah",
        direction="exit",
        planned_date=day,
        staging_facility=facility,
        patients=[(second, []), (first, companions[::-1])],
    )

    lines = list(BatchMember.objects.filter(batch=batch).order_by("pk"))
    assert [(line.patient, line.companion) for line in lines] == [
        (second, None),
        (first, None),
        (None, companions[1]),
        (None, companions[0]),
    ]
    assert (batch.status, batch.planned_date, batch.staging_facility) == ("draft", day, facility)
    events = events_since(since)
    assert [(e.action, e.batch_ref, e.actor_id) for e in events] == [
        ("create", batch.code, coordinator.pk),
        ("add_member", batch.code, coordinator.pk),
        ("add_member", batch.code, coordinator.pk),
    ]
    assert [e.details.get("person") for e in events[1:]] == [
        second.case_reference,
        first.case_reference,
    ]
    assert events[2].details["companions"] == [lines[2].pk, lines[3].pk]
    assert notifications_since(since) == []
    first.refresh_from_db()
    assert first.status == "scheduled"


def test_batch_create_draft_for_returnees(coordinator, day, facility):
    later = factories.ReturneeFactory()
    earlier = factories.ReturneeFactory()
    since = mark()
    batch = batch_create_draft(
        actor=coordinator,
        crossing="rafah",
        direction="return",
        planned_date=day,
        staging_facility=facility,
        returnees=[earlier, later],
    )
    assert [line.returnee for line in batch.members.order_by("pk")] == [earlier, later]
    assert len(events_since(since)) == 3


def test_batch_create_draft_is_all_or_nothing(coordinator, day, patient, facility):
    ready = patient()
    unreferred = factories.PatientFactory(facility=facility)
    batches = Batch.objects.count()
    with refused(TransitionRefused, match=f"patient {unreferred.case_reference} has no approved"):
        batch_create_draft(
            actor=coordinator,
            crossing="rafah",
            direction="exit",
            planned_date=day,
            staging_facility=facility,
            patients=[(ready, []), (unreferred, [])],
        )
    assert Batch.objects.count() == batches
    assert not Event.objects.filter(action="create").exists()


def test_batch_create_draft_refusals_name_the_person(coordinator, day, patient, facility):
    person = patient(companions=3)
    with refused(ValidationError) as info:
        batch_create_draft(
            actor=coordinator,
            crossing="rafah",
            direction="exit",
            planned_date=day,
            staging_facility=facility,
            patients=[(person, list(person.companions.all()))],
        )
    assert person.case_reference in str(info.value)

    returnee = factories.ReturneeFactory()
    with refused(TransitionRefused) as info:
        batch_create_draft(
            actor=coordinator,
            crossing="rafah",
            direction="exit",
            planned_date=day,
            staging_facility=facility,
            returnees=[returnee],
        )
    assert info.value.problems[0].startswith(f"{returnee.reference}: batch ")


def test_batch_create_draft_refuses_a_person_listed_twice(coordinator, day, patient, facility):
    person = patient()
    with refused(ValidationError) as info:
        batch_create_draft(
            actor=coordinator,
            crossing="rafah",
            direction="exit",
            planned_date=day,
            staging_facility=facility,
            patients=[(person, []), (person, [])],
        )
    assert info.value.message_dict == {"people": [f"{person.case_reference} is listed twice"]}
