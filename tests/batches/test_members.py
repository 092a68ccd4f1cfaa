"""Manifest lines through the services: adding and removing people on a draft, and recording the
security clearance of each person once the batch is submitted."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from batches.services import (
    batch_add_companion,
    batch_add_patient,
    batch_add_returnee,
    batch_record_clearance,
    batch_remove_member,
)
from patients.services import patient_set_status, referral_decide, returnee_withdraw
from tests import factories
from tests.service_helpers import (
    REGISTERED,
    advance,
    assert_event,
    mark,
    notifications_since,
    refused,
    the_event_since,
)


@pytest.fixture
def draft(facility):
    return factories.BatchFactory(staging_facility=facility)


@pytest.fixture
def return_draft(facility):
    return factories.BatchFactory(staging_facility=facility, direction="return")


@pytest.fixture
def patient(ready_patient):
    return ready_patient(registered_at=REGISTERED)


def companions_of(patient, count, **fields):
    return [factories.CompanionFactory(patient=patient, **fields) for _ in range(count)]


def line_event(
    event, line, action, actor, *, from_state="", to_state="", reason_text="", **details
):
    assert_event(
        event,
        subject_type="member",
        subject_ref=f"{line.batch.code}#{line.pk}",
        batch_ref=line.batch.code,
        # Returnee lines are filed under no facility: hospital staff do not see them.
        subject_facility_id=None if line.returnee_id else line.batch.staging_facility_id,
        action=action,
        from_state=from_state,
        to_state=to_state,
        actor_id=actor.pk,
        actor_role="coordinator",
        reason_code="",
        reason_text=reason_text,
        source="",
        details={"person": line.person_reference, "kind": line.kind, **details},
    )


def status_of(obj) -> str:
    obj.refresh_from_db()
    return obj.status


# --- batch_add_patient ----------------------------------------------------------------------


def test_batch_add_patient_with_companions(draft, patient, coordinator):
    people = companions_of(patient, 2)
    since = mark()

    lines = batch_add_patient(batch=draft, patient=patient, actor=coordinator, companions=people)

    assert [line.kind for line in lines] == ["patient", "companion", "companion"]
    assert lines[0].patient == patient
    assert [line.companion for line in lines[1:]] == people
    assert all(line.is_open and line.clearance == "pending" for line in lines)
    assert list(draft.members.order_by("pk")) == lines
    patient.refresh_from_db()
    assert (patient.status, patient.registered_at) == ("scheduled", REGISTERED)
    line_event(
        the_event_since(since),
        lines[0],
        "add_member",
        coordinator,
        to_state="open",
        companions=[lines[1].pk, lines[2].pk],
    )
    assert notifications_since(since) == []


def test_batch_add_patient_alone(draft, patient, coordinator):
    since = mark()
    [line] = batch_add_patient(batch=draft, patient=patient, actor=coordinator)
    line_event(
        the_event_since(since), line, "add_member", coordinator, to_state="open", companions=[]
    )


@pytest.mark.parametrize("status", ["prepared", "cancelled"])
def test_batch_add_patient_refused_unless_draft(
    draft, quota, patient, ready_patient, coordinator, status
):
    batch_add_patient(batch=draft, patient=ready_patient(), actor=coordinator)
    advance(draft, status, coordinator)
    with refused(match=f"is {status}: people are added or removed only in a draft"):
        batch_add_patient(batch=draft, patient=patient, actor=coordinator)


def test_batch_add_patient_refused_on_a_return_batch(return_draft, patient, coordinator):
    with refused(match="is a return batch: patients and companions cannot join it"):
        batch_add_patient(batch=return_draft, patient=patient, actor=coordinator)


def test_batch_add_patient_refused_when_already_in_an_open_batch(
    draft, facility, patient, coordinator
):
    batch_add_patient(batch=draft, patient=patient, actor=coordinator)
    other = factories.BatchFactory(staging_facility=facility)
    with refused(match=f"patient {patient.case_reference} is already in open batch {draft.code}"):
        batch_add_patient(batch=other, patient=patient, actor=coordinator)
    # Not even twice on the same batch.
    with refused(match=f"already in open batch {draft.code}"):
        batch_add_patient(batch=draft, patient=patient, actor=coordinator)


@pytest.mark.parametrize("status", ["deceased", "withdrawn"])
def test_batch_add_patient_refused_when_not_waiting(draft, patient, coordinator, status):
    patient_set_status(patient=patient, status=status, actor=coordinator)
    with refused(match=f"patient {patient.case_reference} is {status}, not waiting"):
        batch_add_patient(batch=draft, patient=patient, actor=coordinator)


def test_batch_add_patient_refused_once_evacuated(draft, quota, patient, coordinator):
    batch_add_patient(batch=draft, patient=patient, actor=coordinator)
    advance(draft, "crossed", coordinator)
    assert status_of(patient) == "evacuated"
    other = factories.BatchFactory(staging_facility=draft.staging_facility)
    with refused(match="is evacuated, not waiting"):
        batch_add_patient(batch=other, patient=patient, actor=coordinator)


@pytest.mark.parametrize(
    "referral",
    [
        None,
        {"status": "pending"},
        {"status": "rejected"},
        {"status": "expired"},
        # Approved, but it runs out the day before the batch (days from today).
        {"expires_on": 4},
    ],
)
def test_batch_add_patient_refused_without_a_valid_referral(facility, coordinator, referral):
    day = timezone.localdate() + dt.timedelta(days=5)
    batch = factories.BatchFactory(staging_facility=facility, planned_date=day)
    patient = factories.PatientFactory(facility=facility)
    if referral is not None:
        if "expires_on" in referral:
            referral = {"expires_on": timezone.localdate() + dt.timedelta(days=4)}
        factories.ReferralFactory(patient=patient, **referral)
    with refused(match=f"patient {patient.case_reference} has no approved referral valid on {day}"):
        batch_add_patient(batch=batch, patient=patient, actor=coordinator)


def test_batch_add_patient_accepts_a_referral_expiring_on_the_planned_date(
    draft, facility, coordinator
):
    patient = factories.PatientFactory(facility=facility)
    factories.ReferralFactory(patient=patient, status="expired")
    factories.ReferralFactory(patient=patient, expires_on=draft.planned_date)
    assert batch_add_patient(batch=draft, patient=patient, actor=coordinator)


def test_batch_add_patient_refuses_a_referral_expired_by_decision(draft, patient, coordinator):
    referral_decide(referral=patient.referrals.get(), status="expired", actor=coordinator)
    with refused(match="has no approved referral valid on"):
        batch_add_patient(batch=draft, patient=patient, actor=coordinator)


def test_batch_add_patient_refuses_another_patients_companion(draft, patient, coordinator):
    stranger = factories.CompanionFactory()
    with refused(ValidationError, match=f"are not companions of {patient.case_reference}") as info:
        batch_add_patient(batch=draft, patient=patient, actor=coordinator, companions=[stranger])
    assert set(info.value.message_dict) == {"companions"}
    assert str(stranger.pk) in info.value.message_dict["companions"][0]


def test_batch_add_patient_refuses_too_many_companions(draft, patient, coordinator):
    people = companions_of(patient, 3)
    with refused(ValidationError, match="at most 2 companions may travel") as info:
        batch_add_patient(batch=draft, patient=patient, actor=coordinator, companions=people)
    assert set(info.value.message_dict) == {"companions"}


def test_batch_add_patient_follows_the_companion_setting(draft, patient, coordinator, settings):
    settings.MAX_COMPANIONS_PER_PATIENT = 1
    people = companions_of(patient, 2)
    with refused(ValidationError, match="at most 1 companions may travel"):
        batch_add_patient(batch=draft, patient=patient, actor=coordinator, companions=people)


def test_batch_add_patient_refuses_the_same_companion_twice(draft, patient, coordinator):
    [companion] = companions_of(patient, 1)
    with refused(ValidationError, match="listed twice") as info:
        batch_add_patient(
            batch=draft, patient=patient, actor=coordinator, companions=[companion, companion]
        )
    assert set(info.value.message_dict) == {"companions"}


# --- batch_add_companion --------------------------------------------------------------------


def test_batch_add_companion_joins_their_patient(draft, patient, coordinator):
    first, second = companions_of(patient, 2)
    batch_add_patient(batch=draft, patient=patient, actor=coordinator, companions=[first])
    since = mark()

    line = batch_add_companion(batch=draft, companion=second, actor=coordinator)

    assert (line.batch, line.companion, line.is_open) == (draft, second, True)
    assert draft.members.filter(companion__isnull=False).count() == 2
    line_event(the_event_since(since), line, "add_member", coordinator, to_state="open")
    assert the_event_since(since).details["person"] == (
        f"companion #{second.pk} of {patient.case_reference}"
    )
    assert notifications_since(since) == []


def test_batch_add_companion_refused_without_their_patient(draft, patient, coordinator):
    other = factories.PatientFactory(facility=draft.staging_facility)
    factories.ReferralFactory(patient=other)
    batch_add_patient(batch=draft, patient=other, actor=coordinator)
    [companion] = companions_of(patient, 1)
    with refused(match=f"patient {patient.case_reference} is not on batch {draft.code}"):
        batch_add_companion(batch=draft, companion=companion, actor=coordinator)


def test_batch_add_companion_refused_beyond_the_limit(draft, patient, coordinator):
    people = companions_of(patient, 3)
    batch_add_patient(batch=draft, patient=patient, actor=coordinator, companions=people[:2])
    with refused(ValidationError, match="at most 2 companions may travel") as info:
        batch_add_companion(batch=draft, companion=people[2], actor=coordinator)
    assert f"{patient.case_reference} would have 3" in info.value.message_dict["companions"][0]


def test_batch_add_companion_refused_when_already_on_board(draft, patient, coordinator):
    [companion] = companions_of(patient, 1)
    batch_add_patient(batch=draft, patient=patient, actor=coordinator, companions=[companion])
    with refused(match=f"already in open batch {draft.code}"):
        batch_add_companion(batch=draft, companion=companion, actor=coordinator)


def test_batch_add_companion_refused_unless_draft(draft, quota, patient, coordinator):
    [companion] = companions_of(patient, 1)
    batch_add_patient(batch=draft, patient=patient, actor=coordinator)
    advance(draft, "prepared", coordinator)
    with refused(match="is prepared: people are added or removed only in a draft"):
        batch_add_companion(batch=draft, companion=companion, actor=coordinator)


# --- batch_add_returnee ---------------------------------------------------------------------


def test_batch_add_returnee_schedules_them(return_draft, coordinator):
    returnee = factories.ReturneeFactory(registered_at=REGISTERED)
    since = mark()

    line = batch_add_returnee(batch=return_draft, returnee=returnee, actor=coordinator)

    assert (line.returnee, line.kind, line.is_open) == (returnee, "returnee", True)
    returnee.refresh_from_db()
    assert (returnee.status, returnee.registered_at) == ("scheduled", REGISTERED)
    line_event(the_event_since(since), line, "add_member", coordinator, to_state="open")
    assert the_event_since(since).details["person"] == returnee.reference
    assert notifications_since(since) == []


def test_batch_add_returnee_refused_on_an_exit_batch(draft, coordinator):
    returnee = factories.ReturneeFactory()
    with refused(match="is a exit batch: returnees cannot join it"):
        batch_add_returnee(batch=draft, returnee=returnee, actor=coordinator)


def test_batch_add_returnee_refused_when_already_scheduled(return_draft, facility, coordinator):
    returnee = factories.ReturneeFactory()
    batch_add_returnee(batch=return_draft, returnee=returnee, actor=coordinator)
    other = factories.BatchFactory(staging_facility=facility, direction="return")
    with refused(
        match=f"returnee {returnee.reference} is already in open batch {return_draft.code}"
    ):
        batch_add_returnee(batch=other, returnee=returnee, actor=coordinator)


def test_batch_add_returnee_refused_when_withdrawn(return_draft, coordinator):
    returnee = factories.ReturneeFactory()
    returnee_withdraw(returnee=returnee, actor=coordinator)
    with refused(match=f"returnee {returnee.reference} is withdrawn, not waiting"):
        batch_add_returnee(batch=return_draft, returnee=returnee, actor=coordinator)


def test_batch_add_returnee_refused_unless_draft(return_draft, coordinator):
    factories.QuotaFactory(direction="return")
    batch_add_returnee(batch=return_draft, returnee=factories.ReturneeFactory(), actor=coordinator)
    advance(return_draft, "prepared", coordinator)
    returnee = factories.ReturneeFactory()
    with refused(match="is prepared: people are added or removed only in a draft"):
        batch_add_returnee(batch=return_draft, returnee=returnee, actor=coordinator)


# --- batch_remove_member --------------------------------------------------------------------


def test_batch_remove_member_patient_leaves_with_companions(
    draft, patient, ready_patient, coordinator
):
    lines = batch_add_patient(
        batch=draft, patient=patient, actor=coordinator, companions=companions_of(patient, 2)
    )
    staying = batch_add_patient(batch=draft, patient=ready_patient(), actor=coordinator)
    since = mark()

    batch_remove_member(batch=draft, member=lines[0], actor=coordinator)

    assert list(draft.members.all()) == staying
    patient.refresh_from_db()
    assert (patient.status, patient.registered_at) == ("waiting", REGISTERED)
    line_event(
        the_event_since(since),
        lines[0],
        "remove_member",
        coordinator,
        from_state="open",
        companions=[lines[1].pk, lines[2].pk],
    )
    assert notifications_since(since) == []
    # Back in the queue: the patient can join another batch.
    assert batch_add_patient(batch=draft, patient=patient, actor=coordinator)


def test_batch_remove_member_companion_only(draft, patient, coordinator):
    lines = batch_add_patient(
        batch=draft, patient=patient, actor=coordinator, companions=companions_of(patient, 2)
    )
    since = mark()
    batch_remove_member(batch=draft, member=lines[1], actor=coordinator)
    assert list(draft.members.all()) == [lines[0], lines[2]]
    assert status_of(patient) == "scheduled"
    line_event(
        the_event_since(since),
        lines[1],
        "remove_member",
        coordinator,
        from_state="open",
        companions=[],
    )


def test_batch_remove_member_returnee_back_to_waiting(return_draft, coordinator):
    returnee = factories.ReturneeFactory(registered_at=REGISTERED)
    line = batch_add_returnee(batch=return_draft, returnee=returnee, actor=coordinator)
    since = mark()
    batch_remove_member(batch=return_draft, member=line, actor=coordinator)
    assert not return_draft.members.exists()
    returnee.refresh_from_db()
    assert (returnee.status, returnee.registered_at) == ("waiting", REGISTERED)
    line_event(
        the_event_since(since), line, "remove_member", coordinator, from_state="open", companions=[]
    )


def test_batch_remove_member_refused_unless_draft(draft, quota, patient, coordinator):
    [line] = batch_add_patient(batch=draft, patient=patient, actor=coordinator)
    advance(draft, "prepared", coordinator)
    with refused(match="is prepared: people are added or removed only in a draft"):
        batch_remove_member(batch=draft, member=line, actor=coordinator)


def test_batch_remove_member_of_another_batch_is_not_found(draft, facility, patient, coordinator):
    [line] = batch_add_patient(batch=draft, patient=patient, actor=coordinator)
    other = factories.BatchFactory(staging_facility=facility)
    with refused(ValidationError, match=f"is not on batch {other.code}") as info:
        batch_remove_member(batch=other, member=line, actor=coordinator)
    assert "member" in info.value.message_dict


# --- batch_record_clearance -----------------------------------------------------------------


@pytest.fixture
def submitted(draft, quota, patient, coordinator):
    batch_add_patient(
        batch=draft, patient=patient, actor=coordinator, companions=companions_of(patient, 1)
    )
    return advance(draft, "submitted", coordinator)


def test_batch_record_clearance_records_the_decision(submitted, coordinator):
    line = submitted.members.get(patient__isnull=False)
    since = mark()

    result = batch_record_clearance(
        batch=submitted, member=line, clearance="approved", actor=coordinator, note="ok by BA"
    )

    line.refresh_from_db()
    assert (line.clearance, line.clearance_note) == ("approved", "ok by BA")
    assert line.clearance_recorded_at is not None
    assert result.clearance == "approved"
    line_event(
        the_event_since(since),
        line,
        "clearance",
        coordinator,
        from_state="pending",
        to_state="approved",
        # The note is the event's text, kept beside it (redactable).
        reason_text="ok by BA",
    )
    assert notifications_since(since) == []
    assert status_of(submitted) == "submitted"


def test_batch_record_clearance_may_be_corrected(submitted, coordinator):
    line = submitted.members.get(companion__isnull=False)
    batch_record_clearance(batch=submitted, member=line, clearance="approved", actor=coordinator)
    since = mark()
    batch_record_clearance(
        batch=submitted, member=line, clearance="rejected", actor=coordinator, note="flagged"
    )
    line.refresh_from_db()
    assert (line.clearance, line.clearance_note) == ("rejected", "flagged")
    line_event(
        the_event_since(since),
        line,
        "clearance",
        coordinator,
        from_state="approved",
        to_state="rejected",
        reason_text="flagged",
    )


@pytest.mark.parametrize("clearance", ["pending", "maybe", ""])
def test_batch_record_clearance_only_approved_or_rejected(submitted, coordinator, clearance):
    line = submitted.members.first()
    with refused(ValidationError) as info:
        batch_record_clearance(batch=submitted, member=line, clearance=clearance, actor=coordinator)
    assert set(info.value.message_dict) == {"clearance"}


@pytest.mark.parametrize("status", ["draft", "prepared", "cleared", "in_transit", "cancelled"])
def test_batch_record_clearance_only_when_submitted(draft, quota, patient, coordinator, status):
    [line] = batch_add_patient(batch=draft, patient=patient, actor=coordinator)
    advance(draft, "in_transit" if status == "cancelled" else status, coordinator)
    advance(draft, status, coordinator)
    with refused(match=f"is {status}: clearance is recorded only once it is submitted"):
        batch_record_clearance(batch=draft, member=line, clearance="rejected", actor=coordinator)
