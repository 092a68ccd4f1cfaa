"""Batch transitions through the services (DESIGN section 4): every allowed move writes one Event
and its notification rows; every refused one changes nothing."""

import datetime as dt
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError

from batches.models import Batch, BatchMember
from batches.services import (
    batch_add_patient,
    batch_add_returnee,
    batch_cancel,
    batch_clear,
    batch_create,
    batch_cross,
    batch_depart,
    batch_prepare,
    batch_record_clearance,
    batch_reopen,
    batch_reschedule,
    batch_submit,
    quota_set,
)
from casetracker.errors import TransitionRefused
from patients.services import patient_set_status, readiness_update, referral_decide
from tests import factories
from tests.service_helpers import (
    REGISTERED,
    advance,
    approve_all,
    assert_event,
    assert_notified,
    born,
    mark,
    notifications_since,
    refused,
    the_event_since,
)


@pytest.fixture
def audience(coordinator, nurse, other_nurse, auditor):
    """Who may be notified of a batch at `facility`: `usual` for every transition, `cancel` for a
    cancellation. The inactive coordinator and the other facility's nurse never are."""
    no_email = factories.UserFactory(username="no-email", role="coordinator", email="")
    factories.UserFactory(username="retired", role="coordinator", is_active=False)
    factories.UserFactory(username="plain")  # no role at all
    usual = [coordinator, nurse, no_email]
    return SimpleNamespace(usual=usual, cancel=[*usual, auditor], other_nurse=other_nurse)


@pytest.fixture
def draft(facility):
    return factories.BatchFactory(staging_facility=facility)


@pytest.fixture
def return_draft(facility):
    factories.QuotaFactory(direction="return", agreed_patients=10)
    return factories.BatchFactory(staging_facility=facility, direction="return")


@pytest.fixture
def add(coordinator, ready_patient):
    """`add(batch, companions=0, guardian=False, **patient fields)`: a ready patient (and new
    companions) put on the batch through the service; returns the patient."""

    def make(batch, companions=0, guardian=False, **fields):
        fields.setdefault("registered_at", REGISTERED)
        patient = ready_patient(**fields)
        people = [
            factories.CompanionFactory(patient=patient, is_guardian=guardian and i == 0)
            for i in range(companions)
        ]
        batch_add_patient(batch=batch, patient=patient, actor=coordinator, companions=people)
        return patient

    return make


@pytest.fixture
def loaded(draft, quota, add):
    """A draft with one patient and one companion, ready to be prepared today."""
    add(draft, companions=1)
    return draft


def batch_event(event, batch, action, from_state, to_state, actor, **reason):
    assert_event(
        event,
        subject_type="batch",
        subject_ref=batch.code,
        batch_ref=batch.code,
        subject_facility_id=batch.staging_facility_id,
        action=action,
        from_state=from_state,
        to_state=to_state,
        actor_id=actor.pk,
        actor_role="coordinator",
        reason_code=reason.get("reason_code", ""),
        reason_text=reason.get("reason_text", ""),
        source=reason.get("source", ""),
        channel="command",
    )


def status_of(obj) -> str:
    obj.refresh_from_db()
    return obj.status


# --- create ---------------------------------------------------------------------------------


def test_batch_create_opens_a_numbered_draft_without_notifying(
    coordinator, facility, audience, today
):
    since = mark()
    batch = batch_create(
        actor=coordinator, direction="exit", planned_date=today, staging_facility=facility
    )

    assert batch.status == "draft"
    assert batch.code == f"RAF-{today.isoformat()}-1"
    assert batch.created_by == coordinator
    batch_event(the_event_since(since), batch, "create", "", "draft", coordinator)
    assert notifications_since(since) == []

    second = batch_create(
        actor=coordinator, direction="return", planned_date=today, staging_facility=facility
    )
    assert second.code == f"RAF-{today.isoformat()}-2"


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [("direction", {"direction": "sideways"}), ("crossing", {"crossing": "erez"})],
)
def test_batch_create_refuses_unknown_choices(coordinator, facility, today, field, kwargs):
    arguments = {"direction": "exit", "planned_date": today, "staging_facility": facility}
    with refused(ValidationError) as info:
        batch_create(actor=coordinator, **{**arguments, **kwargs})
    assert set(info.value.message_dict) == {field}


# --- prepare --------------------------------------------------------------------------------


def test_batch_prepare_moves_draft_to_prepared_and_notifies(loaded, coordinator, audience):
    since = mark()
    batch = batch_prepare(batch=loaded, actor=coordinator)

    assert status_of(loaded) == "prepared" == batch.status
    event = the_event_since(since)
    batch_event(event, loaded, "prepare", "draft", "prepared", coordinator)
    assert event.details == {"patients": 1, "companions": 1, "returnees": 0}
    assert_notified(event, audience.usual, since)
    assert not event.notifications.filter(recipient=audience.other_nurse).exists()
    assert event.notifications.get(recipient__username="nurse", channel="email").language == "ar"


def test_batch_prepare_refuses_a_batch_without_patients(draft, quota, coordinator, audience):
    with refused(match="has no patient"):
        batch_prepare(batch=draft, actor=coordinator)


def test_batch_prepare_refuses_a_patient_whose_referral_expired(loaded, coordinator):
    patient = loaded.members.get(patient__isnull=False).patient
    referral_decide(referral=patient.referrals.get(), status="expired", actor=coordinator)
    with refused(match=f"patient {patient.case_reference} has no approved referral valid on"):
        batch_prepare(batch=loaded, actor=coordinator)


@pytest.mark.parametrize(
    ("flag", "problem"),
    [
        ("fit_to_travel", "patient {ref} is not fit to travel"),
        ("documents_ready", "patient {ref}: travel documents are not ready"),
        ("transport_confirmed", "patient {ref}: transport needs are not confirmed"),
        ("companions_present", "patient {ref}: companions are not present at the facility"),
    ],
)
def test_batch_prepare_refuses_a_patient_not_ready(loaded, coordinator, nurse, flag, problem):
    patient = loaded.members.get(patient__isnull=False).patient
    readiness_update(patient=patient, actor=nurse, **{flag: False})
    with refused() as info:
        batch_prepare(batch=loaded, actor=coordinator)
    assert info.value.problems == [problem.format(ref=patient.case_reference)]


def test_batch_prepare_ignores_companions_present_when_alone(draft, quota, add, coordinator, nurse):
    patient = add(draft)
    readiness_update(patient=patient, actor=nurse, companions_present=False)
    assert batch_prepare(batch=draft, actor=coordinator).status == "prepared"


def test_batch_prepare_lists_every_problem(draft, quota, add, coordinator, nurse):
    first, second = add(draft), add(draft)
    readiness_update(patient=first, actor=nurse, fit_to_travel=False)
    referral_decide(referral=second.referrals.get(), status="expired", actor=coordinator)
    with refused() as info:
        batch_prepare(batch=draft, actor=coordinator)
    assert len(info.value.problems) == 2
    assert first.case_reference in info.value.problems[0]
    assert second.case_reference in info.value.problems[1]


def test_batch_prepare_refuses_more_companions_than_allowed(loaded, coordinator):
    patient = loaded.members.get(patient__isnull=False).patient
    # Setup only: the member services already refuse a third companion (test_members).
    for _ in range(2):
        BatchMember.objects.create(
            batch=loaded, companion=factories.CompanionFactory(patient=patient)
        )
    with refused(match="has 3 companions; at most 2 may travel"):
        batch_prepare(batch=loaded, actor=coordinator)


def test_batch_prepare_refuses_a_child_without_guardian(draft, quota, add, coordinator, today):
    child = add(draft, companions=1, date_of_birth=born(10, today))
    with refused(match=f"patient {child.case_reference} is a child and has no guardian"):
        batch_prepare(batch=draft, actor=coordinator)


def test_batch_prepare_refuses_a_child_whose_guardian_is_a_minor(
    draft, quota, add, coordinator, today
):
    child = add(draft, date_of_birth=born(10, today))
    # Setup only: companion_add refuses a minor guardian (tests/patients).
    minor = factories.CompanionFactory(
        patient=child, is_guardian=True, date_of_birth=born(16, today)
    )
    BatchMember.objects.create(batch=draft, companion=minor)
    with refused(match="is a child and has no guardian"):
        batch_prepare(batch=draft, actor=coordinator)


def test_batch_prepare_accepts_a_child_with_an_adult_guardian(
    draft, quota, add, coordinator, today
):
    add(draft, companions=2, guardian=True, date_of_birth=born(10, today))
    assert batch_prepare(batch=draft, actor=coordinator).status == "prepared"


@pytest.mark.parametrize(
    ("days_after_18th_birthday", "is_child"), [(0, False), (-1, True), (1, False)]
)
def test_batch_prepare_judges_age_on_the_planned_date(
    facility, add, coordinator, today, days_after_18th_birthday, is_child
):
    planned = today + dt.timedelta(days=10)
    factories.QuotaFactory(date=planned)
    batch = factories.BatchFactory(staging_facility=facility, planned_date=planned)
    # Still 17 today in every case; 18 on the planned date unless the birthday comes later.
    add(batch, date_of_birth=born(18, planned, days=-days_after_18th_birthday))
    if is_child:
        with refused(match="is a child and has no guardian"):
            batch_prepare(batch=batch, actor=coordinator)
    else:
        assert batch_prepare(batch=batch, actor=coordinator).status == "prepared"


def test_batch_prepare_refuses_a_day_without_quota(loaded, coordinator, quota, today):
    quota.delete()
    with refused(match=f"no quota agreed for Rafah exit on {today.isoformat()}"):
        batch_prepare(batch=loaded, actor=coordinator)


def test_batch_prepare_counts_places_held_by_other_batches_of_the_day(
    facility, add, coordinator, today
):
    factories.QuotaFactory(agreed_patients=5, agreed_companions=10)
    other_day = factories.QuotaFactory(date=today + dt.timedelta(days=1), agreed_patients=5)
    # Not holding places: a cancelled batch, a draft, another day, the other direction.
    cancelled = factories.BatchFactory(staging_facility=facility)
    add(cancelled)
    advance(advance(cancelled, "prepared", coordinator), "cancelled", coordinator)
    add(factories.BatchFactory(staging_facility=facility))
    returning = factories.BatchFactory(staging_facility=facility, direction="return")
    batch_add_returnee(batch=returning, returnee=factories.ReturneeFactory(), actor=coordinator)
    factories.QuotaFactory(direction="return", agreed_patients=1)
    advance(returning, "prepared", coordinator)
    holders = {}
    for status in ("prepared", "submitted", "cleared", "in_transit", "crossed"):
        holders[status] = factories.BatchFactory(staging_facility=facility)
        add(holders[status])
        advance(holders[status], status, coordinator)
    elsewhere = factories.BatchFactory(staging_facility=facility, planned_date=other_day.date)
    add(elsewhere)
    advance(elsewhere, "prepared", coordinator)

    # 5 patients hold places against 5 agreed: none left.
    batch = factories.BatchFactory(staging_facility=facility)
    add(batch)
    with refused(match=f"0 places left in the quota for {today.isoformat()}, batch has 1 patients"):
        batch_prepare(batch=batch, actor=coordinator)

    # The turned-back patient of a crossed batch gives the place back.
    holders["in_transit"].refresh_from_db()
    lines = list(holders["in_transit"].members.filter(is_open=True))
    batch_cross(
        batch=holders["in_transit"],
        actor=coordinator,
        outcomes={line.pk: "turned_back" for line in lines},
    )
    assert batch_prepare(batch=batch, actor=coordinator).status == "prepared"


def test_batch_prepare_says_how_many_places_are_left(facility, add, coordinator, today):
    factories.QuotaFactory(agreed_patients=3, agreed_companions=1)
    other = factories.BatchFactory(staging_facility=facility)
    add(other)
    advance(other, "prepared", coordinator)
    batch = factories.BatchFactory(staging_facility=facility)
    for _ in range(3):
        add(batch)
    message = f"2 places left in the quota for {today.isoformat()}, batch has 3 patients"
    with refused(match=message):
        batch_prepare(batch=batch, actor=coordinator)


def test_batch_prepare_never_reports_negative_places(facility, add, coordinator, today):
    factories.QuotaFactory(agreed_patients=5)
    other = factories.BatchFactory(staging_facility=facility)
    add(other)
    add(other)
    advance(other, "prepared", coordinator)
    quota_set(
        actor=coordinator,
        crossing="rafah",
        day=today,
        direction="exit",
        agreed_patients=1,
        agreed_companions=0,
        source="who",
    )
    batch = factories.BatchFactory(staging_facility=facility)
    add(batch)
    with refused(match=f"^0 places left in the quota for {today.isoformat()}, batch has 1"):
        batch_prepare(batch=batch, actor=coordinator)


def test_batch_prepare_checks_the_companion_quota(draft, add, coordinator, today):
    factories.QuotaFactory(agreed_patients=5, agreed_companions=1)
    add(draft, companions=2)
    message = f"1 companion places left in the quota for {today.isoformat()}, batch has 2"
    with refused(match=message):
        batch_prepare(batch=draft, actor=coordinator)


def test_batch_prepare_return_batch_needs_a_returnee_and_a_return_quota(
    return_draft, coordinator, audience
):
    with refused(match="has no returnee"):
        batch_prepare(batch=return_draft, actor=coordinator)
    batch_add_returnee(batch=return_draft, returnee=factories.ReturneeFactory(), actor=coordinator)
    since = mark()
    batch = batch_prepare(batch=return_draft, actor=coordinator)
    assert batch.status == "prepared"
    event = the_event_since(since)
    assert event.details == {"patients": 0, "companions": 0, "returnees": 1}
    assert_notified(event, audience.usual, since)


def test_batch_prepare_return_batch_refused_without_return_quota(
    facility, quota, coordinator, today
):
    batch = factories.BatchFactory(staging_facility=facility, direction="return")
    batch_add_returnee(batch=batch, returnee=factories.ReturneeFactory(), actor=coordinator)
    with refused(match=f"no quota agreed for Rafah return on {today.isoformat()}"):
        batch_prepare(batch=batch, actor=coordinator)


# --- reopen and submit ----------------------------------------------------------------------


def test_batch_reopen_moves_prepared_back_to_draft(loaded, coordinator, audience):
    advance(loaded, "prepared", coordinator)
    since = mark()
    assert batch_reopen(batch=loaded, actor=coordinator).status == "draft"
    assert status_of(loaded) == "draft"
    event = the_event_since(since)
    batch_event(event, loaded, "reopen", "prepared", "draft", coordinator)
    assert_notified(event, audience.usual, since)
    # People stay on board.
    assert loaded.members.filter(is_open=True).count() == 2


@pytest.mark.parametrize("status", ["draft", "submitted", "cleared", "in_transit"])
def test_batch_reopen_refused_unless_prepared(loaded, coordinator, status):
    advance(loaded, status, coordinator)
    with refused(match=f"is {status}: cannot reopen it"):
        batch_reopen(batch=loaded, actor=coordinator)


def test_batch_submit_moves_prepared_to_submitted(loaded, coordinator, audience):
    advance(loaded, "prepared", coordinator)
    since = mark()
    assert batch_submit(batch=loaded, actor=coordinator).status == "submitted"
    assert status_of(loaded) == "submitted"
    event = the_event_since(since)
    batch_event(event, loaded, "submit", "prepared", "submitted", coordinator)
    assert event.details == {"patients": 1, "companions": 1, "returnees": 0}
    assert_notified(event, audience.usual, since)


@pytest.mark.parametrize("status", ["draft", "submitted", "cleared", "in_transit"])
def test_batch_submit_refused_unless_prepared(loaded, coordinator, status):
    advance(loaded, status, coordinator)
    with refused(match=f"is {status}: cannot submit it"):
        batch_submit(batch=loaded, actor=coordinator)


# --- clear ----------------------------------------------------------------------------------


def test_batch_clear_moves_submitted_to_cleared(loaded, coordinator, audience):
    advance(loaded, "submitted", coordinator)
    approve_all(loaded, coordinator)
    since = mark()
    assert batch_clear(batch=loaded, actor=coordinator).status == "cleared"
    event = the_event_since(since)
    batch_event(event, loaded, "clear", "submitted", "cleared", coordinator)
    assert event.details == {"patients": 1, "companions": 1, "returnees": 0, "not_cleared": []}
    assert_notified(event, audience.usual, since)
    assert loaded.members.filter(is_open=True).count() == 2


def test_batch_clear_refused_while_a_clearance_is_pending(loaded, coordinator):
    advance(loaded, "submitted", coordinator)
    patient_line = loaded.members.get(patient__isnull=False)
    batch_record_clearance(
        batch=loaded, member=patient_line, clearance="approved", actor=coordinator
    )
    companion_line = loaded.members.get(companion__isnull=False)
    with refused(match="1 people still await a clearance decision") as info:
        batch_clear(batch=loaded, actor=coordinator)
    assert companion_line.person_reference in str(info.value)


@pytest.mark.parametrize("status", ["draft", "prepared", "cleared", "in_transit"])
def test_batch_clear_refused_unless_submitted(loaded, coordinator, status):
    advance(loaded, status, coordinator)
    with refused(match=f"is {status}: cannot clear it"):
        batch_clear(batch=loaded, actor=coordinator)


def test_batch_clear_sends_a_rejected_patient_back_with_companions(
    draft, quota, add, coordinator, audience
):
    rejected = add(draft, companions=2)
    travelling = add(draft, companions=1)
    advance(draft, "submitted", coordinator)
    approve_all(draft, coordinator)
    line = draft.members.get(patient=rejected)
    batch_record_clearance(batch=draft, member=line, clearance="rejected", actor=coordinator)
    since = mark()

    batch_clear(batch=draft, actor=coordinator)

    assert status_of(draft) == "cleared"
    rejected.refresh_from_db()
    assert (rejected.status, rejected.registered_at) == ("waiting", REGISTERED)
    assert status_of(travelling) == "scheduled"
    staying = list(draft.members.filter(is_open=False))
    assert sorted((m.kind, m.end_reason) for m in staying) == [
        ("companion", "rejected"),
        ("companion", "rejected"),
        ("patient", "rejected"),
    ]
    assert {m.patient_id or m.companion.patient_id for m in staying} == {rejected.pk}
    open_lines = list(draft.members.filter(is_open=True))
    assert sorted(m.kind for m in open_lines) == ["companion", "patient"]
    assert {m.patient_id or m.companion.patient_id for m in open_lines} == {travelling.pk}
    event = the_event_since(since)
    batch_event(event, draft, "clear", "submitted", "cleared", coordinator)
    assert event.details["patients"] == 1
    assert event.details["companions"] == 1
    assert sorted(event.details["not_cleared"]) == sorted(m.person_reference for m in staying)
    assert_notified(event, audience.usual, since)


def test_batch_clear_keeps_a_patient_whose_companion_was_rejected(loaded, coordinator):
    advance(loaded, "submitted", coordinator)
    approve_all(loaded, coordinator)
    companion_line = loaded.members.get(companion__isnull=False)
    batch_record_clearance(
        batch=loaded, member=companion_line, clearance="rejected", actor=coordinator
    )
    batch_clear(batch=loaded, actor=coordinator)
    patient_line = loaded.members.get(patient__isnull=False)
    companion_line.refresh_from_db()
    assert patient_line.is_open and status_of(patient_line.patient) == "scheduled"
    assert (companion_line.is_open, companion_line.end_reason) == (False, "rejected")


def test_batch_clear_refuses_a_child_whose_guardian_was_rejected(
    draft, quota, add, coordinator, today
):
    child = add(draft, companions=1, guardian=True, date_of_birth=born(8, today))
    advance(draft, "submitted", coordinator)
    approve_all(draft, coordinator)
    guardian = draft.members.get(companion__isnull=False)
    batch_record_clearance(batch=draft, member=guardian, clearance="rejected", actor=coordinator)
    with refused(match=f"patient {child.case_reference} is a child and no guardian was cleared"):
        batch_clear(batch=draft, actor=coordinator)


def test_batch_clear_accepts_a_rejected_child_without_guardian(
    draft, quota, add, coordinator, today
):
    child = add(draft, companions=1, guardian=True, date_of_birth=born(8, today))
    add(draft)
    advance(draft, "submitted", coordinator)
    approve_all(draft, coordinator)
    for line in draft.members.filter(patient=child) | draft.members.filter(
        companion__patient=child
    ):
        batch_record_clearance(batch=draft, member=line, clearance="rejected", actor=coordinator)
    assert batch_clear(batch=draft, actor=coordinator).status == "cleared"
    assert status_of(child) == "waiting"


# --- depart ---------------------------------------------------------------------------------


def test_batch_depart_moves_cleared_to_in_transit(loaded, coordinator, audience):
    advance(loaded, "cleared", coordinator)
    since = mark()
    assert batch_depart(batch=loaded, actor=coordinator).status == "in_transit"
    event = the_event_since(since)
    batch_event(event, loaded, "depart", "cleared", "in_transit", coordinator)
    assert event.details == {"patients": 1, "companions": 1, "returnees": 0}
    assert_notified(event, audience.usual, since)


def test_batch_depart_refused_when_nobody_was_cleared(loaded, coordinator):
    advance(loaded, "submitted", coordinator)
    for line in loaded.members.all():
        batch_record_clearance(batch=loaded, member=line, clearance="rejected", actor=coordinator)
    batch_clear(batch=loaded, actor=coordinator)
    with refused(match="has no patient cleared to travel"):
        batch_depart(batch=loaded, actor=coordinator)


@pytest.mark.parametrize("status", ["draft", "prepared", "submitted", "in_transit"])
def test_batch_depart_refused_unless_cleared(loaded, coordinator, status):
    advance(loaded, status, coordinator)
    with refused(match=f"is {status}: cannot depart it"):
        batch_depart(batch=loaded, actor=coordinator)


# --- cross ----------------------------------------------------------------------------------


def test_batch_cross_records_every_outcome(draft, quota, add, coordinator, audience):
    crossed, turned_back, held = add(draft, companions=1), add(draft), add(draft)
    advance(draft, "in_transit", coordinator)
    lines = {(m.patient_id or m.companion.patient_id, m.kind): m for m in draft.members.all()}
    outcomes = {
        lines[crossed.pk, "patient"].pk: "crossed",
        lines[crossed.pk, "companion"].pk: "crossed",
        lines[turned_back.pk, "patient"].pk: "turned_back",
        lines[held.pk, "patient"].pk: "held",
    }
    since = mark()

    assert batch_cross(batch=draft, actor=coordinator, outcomes=outcomes).status == "crossed"

    assert status_of(draft) == "crossed"
    assert status_of(crossed) == "evacuated"
    for patient in (turned_back, held):
        patient.refresh_from_db()
        assert (patient.status, patient.registered_at) == ("waiting", REGISTERED)
    assert {m.pk: m.outcome for m in draft.members.all()} == outcomes
    assert set(draft.members.values_list("is_open", "end_reason")) == {(False, "completed")}
    event = the_event_since(since)
    batch_event(event, draft, "cross", "in_transit", "crossed", coordinator)
    assert event.details == {
        "patients": 3,
        "companions": 1,
        "returnees": 0,
        "outcomes": {"crossed": 2, "turned_back": 1, "held": 1, "no_show": 0},
    }
    assert_notified(event, audience.usual, since)


def test_batch_cross_returnees_who_crossed_are_returned(return_draft, coordinator, audience):
    home = factories.ReturneeFactory(registered_at=REGISTERED)
    no_show = factories.ReturneeFactory(registered_at=REGISTERED)
    for returnee in (home, no_show):
        batch_add_returnee(batch=return_draft, returnee=returnee, actor=coordinator)
    advance(return_draft, "in_transit", coordinator)
    line = {m.returnee_id: m.pk for m in return_draft.members.all()}
    since = mark()
    batch_cross(
        batch=return_draft,
        actor=coordinator,
        outcomes={line[home.pk]: "crossed", line[no_show.pk]: "no_show"},
    )
    assert status_of(home) == "returned"
    no_show.refresh_from_db()
    assert (no_show.status, no_show.registered_at) == ("waiting", REGISTERED)
    event = the_event_since(since)
    assert event.details["outcomes"] == {"crossed": 1, "turned_back": 0, "held": 0, "no_show": 1}
    assert_notified(event, audience.usual, since)


def test_batch_cross_requires_an_outcome_for_every_line(loaded, coordinator):
    advance(loaded, "in_transit", coordinator)
    patient_line = loaded.members.get(patient__isnull=False)
    companion_line = loaded.members.get(companion__isnull=False)
    with refused(ValidationError, match="no outcome for") as info:
        batch_cross(batch=loaded, actor=coordinator, outcomes={patient_line.pk: "crossed"})
    assert set(info.value.message_dict) == {"outcomes"}
    assert companion_line.reference in info.value.message_dict["outcomes"][0]


def test_batch_cross_refuses_lines_not_on_board(loaded, coordinator):
    advance(loaded, "in_transit", coordinator)
    outcomes = {line.pk: "crossed" for line in loaded.members.all()}
    stranger = max(outcomes) + 1000
    with refused(ValidationError, match="not on board") as info:
        batch_cross(batch=loaded, actor=coordinator, outcomes={**outcomes, stranger: "crossed"})
    assert str(stranger) in info.value.message_dict["outcomes"][0]


def test_batch_cross_refuses_unknown_outcomes(loaded, coordinator):
    advance(loaded, "in_transit", coordinator)
    outcomes = {line.pk: "vanished" for line in loaded.members.all()}
    with refused(ValidationError, match="unknown outcomes") as info:
        batch_cross(batch=loaded, actor=coordinator, outcomes=outcomes)
    assert set(info.value.message_dict) == {"outcomes"}


@pytest.mark.parametrize("status", ["draft", "prepared", "submitted", "cleared"])
def test_batch_cross_refused_unless_in_transit(loaded, coordinator, status):
    advance(loaded, status, coordinator)
    outcomes = {line.pk: "crossed" for line in loaded.members.filter(is_open=True)}
    with refused(match=f"is {status}: cannot cross it"):
        batch_cross(batch=loaded, actor=coordinator, outcomes=outcomes)


# --- cancel ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["draft", "prepared", "submitted", "cleared", "in_transit"])
def test_batch_cancel_from_every_open_state(loaded, coordinator, audience, status):
    advance(loaded, status, coordinator)
    patient = loaded.members.get(patient__isnull=False).patient
    since = mark()

    batch = batch_cancel(
        batch=loaded,
        actor=coordinator,
        reason_code="weather",
        reason_text="  sandstorm at the crossing \n",
        source="who",
    )

    assert batch.status == "cancelled"
    loaded.refresh_from_db()
    assert (
        loaded.status,
        loaded.cancel_reason_code,
        loaded.cancel_reason_text,
        loaded.cancel_source,
        loaded.cancelled_from,
    ) == ("cancelled", "weather", "sandstorm at the crossing", "who", status)
    assert loaded.cancelled_at is not None
    patient.refresh_from_db()
    assert (patient.status, patient.registered_at) == ("waiting", REGISTERED)
    assert set(loaded.members.values_list("is_open", "end_reason")) == {(False, "cancelled")}
    event = the_event_since(since)
    batch_event(
        event,
        loaded,
        "cancel",
        status,
        "cancelled",
        coordinator,
        reason_code="weather",
        reason_text="sandstorm at the crossing",
        source="who",
    )
    # Nobody relayed it (`relayed_by` blank: heard directly); the text is kept beside the event.
    assert event.details == {"patients": 1, "companions": 1, "returnees": 0, "relayed_by": ""}
    assert (event.chained_text, event.text_row.text) == ("", "sandstorm at the crossing")
    assert_notified(event, audience.cancel, since)


def test_batch_cancel_returns_returnees_to_the_queue(return_draft, coordinator):
    returnee = factories.ReturneeFactory(registered_at=REGISTERED)
    batch_add_returnee(batch=return_draft, returnee=returnee, actor=coordinator)
    advance(return_draft, "submitted", coordinator)
    advance(return_draft, "cancelled", coordinator)
    returnee.refresh_from_db()
    assert (returnee.status, returnee.registered_at) == ("waiting", REGISTERED)


def test_batch_cancel_after_clear_keeps_rejected_lines_as_rejected(draft, quota, add, coordinator):
    rejected, kept = add(draft), add(draft)
    advance(draft, "submitted", coordinator)
    approve_all(draft, coordinator)
    line = draft.members.get(patient=rejected)
    batch_record_clearance(batch=draft, member=line, clearance="rejected", actor=coordinator)
    batch_clear(batch=draft, actor=coordinator)
    advance(draft, "cancelled", coordinator)
    assert dict(draft.members.values_list("patient", "end_reason")) == {
        rejected.pk: "rejected",
        kept.pk: "cancelled",
    }
    assert status_of(rejected) == status_of(kept) == "waiting"


@pytest.mark.parametrize(
    ("arguments", "fields"),
    [
        ({"reason_code": "boredom"}, {"reason_code"}),
        ({"reason_code": ""}, {"reason_code"}),
        ({"reason_text": ""}, {"reason_text"}),
        ({"reason_text": "   \n"}, {"reason_text"}),
        ({"source": "rumour"}, {"source"}),
        ({"source": ""}, {"source"}),
        (
            {"reason_code": "x", "reason_text": " ", "source": "y"},
            {"reason_code", "reason_text", "source"},
        ),
    ],
)
def test_batch_cancel_requires_reason_text_and_source(loaded, coordinator, arguments, fields):
    advance(loaded, "prepared", coordinator)
    valid = {"reason_code": "security", "reason_text": "closed", "source": "border_authority"}
    with refused(ValidationError) as info:
        batch_cancel(batch=loaded, actor=coordinator, **{**valid, **arguments})
    assert set(info.value.message_dict) == fields


# --- terminal states ------------------------------------------------------------------------

TRANSITIONS = {
    "prepare": lambda batch, actor: batch_prepare(batch=batch, actor=actor),
    "reopen": lambda batch, actor: batch_reopen(batch=batch, actor=actor),
    "submit": lambda batch, actor: batch_submit(batch=batch, actor=actor),
    "clear": lambda batch, actor: batch_clear(batch=batch, actor=actor),
    "depart": lambda batch, actor: batch_depart(batch=batch, actor=actor),
    "cross": lambda batch, actor: batch_cross(batch=batch, actor=actor, outcomes={}),
    "cancel": lambda batch, actor: batch_cancel(
        batch=batch, actor=actor, reason_code="other", reason_text="again", source="internal"
    ),
}


@pytest.mark.parametrize("terminal", ["crossed", "cancelled"])
@pytest.mark.parametrize("name", list(TRANSITIONS))
def test_batch_terminal_states_refuse_every_transition(loaded, coordinator, terminal, name):
    advance(loaded, "in_transit" if terminal == "cancelled" else terminal, coordinator)
    advance(loaded, terminal, coordinator)
    with refused(match=f"is {terminal}: cannot {name} it"):
        TRANSITIONS[name](loaded, coordinator)


def test_batch_terminal_states_refuse_new_members(loaded, coordinator, ready_patient):
    advance(loaded, "cancelled", coordinator)
    patient = ready_patient()
    with refused(match="is cancelled: people are added or removed only in a draft"):
        batch_add_patient(batch=loaded, patient=patient, actor=coordinator)


# --- reschedule -----------------------------------------------------------------------------


@pytest.fixture
def cancelled(draft, quota, add, coordinator):
    """A batch cancelled once submitted: two patients, the first with two companions."""
    first = add(draft, companions=2)
    second = add(draft)
    advance(draft, "submitted", coordinator)
    advance(draft, "cancelled", coordinator)
    return SimpleNamespace(batch=draft, first=first, second=second)


def test_batch_reschedule_opens_a_draft_with_the_same_people(
    cancelled, coordinator, audience, today
):
    day = today + dt.timedelta(days=3)
    since = mark()

    new = batch_reschedule(batch=cancelled.batch, actor=coordinator, planned_date=day)

    assert (new.status, new.planned_date, new.direction) == ("draft", day, "exit")
    assert new.code == f"RAF-{day.isoformat()}-1"
    assert new.rescheduled_from == cancelled.batch
    assert new.staging_facility_id == cancelled.batch.staging_facility_id
    assert status_of(cancelled.batch) == "cancelled"
    old_people = set(cancelled.batch.members.values_list("patient", "companion"))
    assert set(new.members.values_list("patient", "companion")) == old_people
    assert len(old_people) == 4
    assert all(new.members.values_list("is_open", flat=True))
    for patient in (cancelled.first, cancelled.second):
        patient.refresh_from_db()
        assert (patient.status, patient.registered_at) == ("scheduled", REGISTERED)
    event = the_event_since(since)
    batch_event(event, new, "reschedule", "", "draft", coordinator)
    assert event.details == {
        "patients": 2,
        "companions": 2,
        "returnees": 0,
        "rescheduled_from": cancelled.batch.code,
        "left_out": [],
    }
    assert_notified(event, audience.usual, since)


def test_batch_reschedule_leaves_out_people_no_longer_waiting(
    cancelled, coordinator, facility, today
):
    patient_set_status(patient=cancelled.first, status="withdrawn", actor=coordinator)
    elsewhere = factories.BatchFactory(staging_facility=facility)
    cancelled.second.refresh_from_db()
    batch_add_patient(batch=elsewhere, patient=cancelled.second, actor=coordinator)
    since = mark()

    new = batch_reschedule(batch=cancelled.batch, actor=coordinator, planned_date=today)

    assert new.members.count() == 0
    assert status_of(cancelled.first) == "withdrawn"
    assert elsewhere.members.get().patient == cancelled.second
    companions = [
        f"companion #{c.pk} of {cancelled.first.case_reference}"
        for c in cancelled.first.companions.order_by("pk")
    ]
    event = the_event_since(since)
    assert sorted(event.details["left_out"]) == sorted(
        [cancelled.first.case_reference, cancelled.second.case_reference, *companions]
    )
    assert event.details["patients"] == event.details["companions"] == 0


def test_batch_reschedule_to_another_staging_facility_notifies_its_staff(
    cancelled, coordinator, other_facility, other_nurse, nurse, today
):
    since = mark()
    new = batch_reschedule(
        batch=cancelled.batch,
        actor=coordinator,
        planned_date=today,
        staging_facility=other_facility,
    )
    assert new.staging_facility == other_facility
    assert_notified(the_event_since(since), [coordinator, other_nurse], since)


def test_batch_reschedule_returnee_batch(return_draft, coordinator, today):
    returnee = factories.ReturneeFactory()
    batch_add_returnee(batch=return_draft, returnee=returnee, actor=coordinator)
    advance(return_draft, "cancelled", coordinator)
    new = batch_reschedule(batch=return_draft, actor=coordinator, planned_date=today)
    assert new.direction == "return"
    assert new.members.get().returnee == returnee
    assert status_of(returnee) == "scheduled"


def test_batch_reschedule_only_once(cancelled, coordinator, today):
    first = batch_reschedule(batch=cancelled.batch, actor=coordinator, planned_date=today)
    with refused(match=f"was already rescheduled as {first.code}"):
        batch_reschedule(batch=cancelled.batch, actor=coordinator, planned_date=today)


@pytest.mark.parametrize("status", ["draft", "prepared", "submitted", "in_transit", "crossed"])
def test_batch_reschedule_refused_unless_cancelled(loaded, coordinator, today, status):
    advance(loaded, status, coordinator)
    with refused(match=f"is {status}: only a cancelled batch is rescheduled"):
        batch_reschedule(batch=loaded, actor=coordinator, planned_date=today)


def test_batch_reschedule_refuses_a_date_in_the_past(cancelled, coordinator, today):
    with refused(ValidationError) as info:
        batch_reschedule(
            batch=cancelled.batch, actor=coordinator, planned_date=today - dt.timedelta(days=1)
        )
    assert set(info.value.message_dict) == {"planned_date"}
    assert not Batch.objects.filter(rescheduled_from=cancelled.batch).exists()


def test_batch_transition_on_a_stale_instance_uses_the_stored_status(loaded, coordinator):
    stale = Batch.objects.get(pk=loaded.pk)
    advance(loaded, "prepared", coordinator)
    # `stale` still says draft in memory; the service re-reads the row under lock.
    with refused(TransitionRefused, match="is prepared: cannot prepare it"):
        batch_prepare(batch=stale, actor=coordinator)
