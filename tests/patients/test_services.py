"""Patients, companions, referrals, readiness and returnees through their services."""

import datetime as dt
import re

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from batches.services import batch_add_patient, batch_add_returnee
from casetracker.errors import TransitionRefused
from patients.models import Readiness, ReadinessChange, Referral, Returnee
from patients.services import (
    companion_add,
    patient_register,
    patient_set_status,
    patient_update,
    readiness_update,
    referral_create,
    referral_decide,
    returnee_register,
    returnee_withdraw,
)
from tests import factories
from tests.service_helpers import (
    REGISTERED,
    assert_event,
    born,
    events_since,
    mark,
    notifications_since,
    refused,
    the_event_since,
)


@pytest.fixture
def patient(facility):
    return factories.PatientFactory(facility=facility, registered_at=REGISTERED)


def patient_data(facility, **overrides):
    return {
        "name_latin": "Amal Saleh",
        "name_arabic": "أمل صالح",
        "national_id": "401234567",
        "date_of_birth": dt.date(1990, 6, 1),
        "sex": "female",
        "phone": "+970599000000",
        "facility": facility,
        "priority": "critical",
        "clinical_category": "renal",
        "diagnosis": "end-stage renal failure",
        **overrides,
    }


def returnee_data(**overrides):
    return {
        "name_latin": "Omar Haddad",
        "name_arabic": "عمر حداد",
        "national_id": "901234567",
        "date_of_birth": dt.date(1985, 2, 2),
        "sex": "male",
        "left_on": dt.date(2024, 2, 1),
        **overrides,
    }


def event_holds_no_identity(event, *values) -> bool:
    blob = repr(
        [getattr(event, f.attname) for f in event._meta.concrete_fields if f.attname != "hash"]
    )
    return not any(str(value) in blob for value in values)


# --- patient_register -----------------------------------------------------------------------


def test_patient_register_joins_the_queue(facility, coordinator):
    since = mark()
    before = timezone.now()

    patient = patient_register(actor=coordinator, **patient_data(facility))

    patient.refresh_from_db()
    assert patient.status == "waiting"
    assert re.fullmatch(r"EV-[2-9A-HJKMNP-Z]{6}", patient.case_reference)
    assert before <= patient.registered_at <= timezone.now()
    readiness = Readiness.objects.get(patient=patient)
    assert readiness.snapshot() == {
        "fit_to_travel": False,
        "documents_ready": False,
        "companions_present": False,
        "transport_confirmed": False,
        "note": "",
    }
    assert readiness.updated_by == coordinator
    event = the_event_since(since)
    assert_event(
        event,
        subject_type="patient",
        subject_ref=patient.case_reference,
        subject_facility_id=facility.pk,
        action="register",
        from_state="",
        to_state="waiting",
        actor_id=coordinator.pk,
        actor_role="coordinator",
        details={"priority": "critical", "category": "renal"},
    )
    assert event_holds_no_identity(
        event, "Amal", "أمل", "401234567", "renal failure", "+970599000000"
    )
    assert notifications_since(since) == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"status": "evacuated"}, "status"),
        ({"registered_at": REGISTERED}, "registered_at"),
        ({"priority": "whenever"}, "priority"),
        ({"clinical_category": "dental"}, "clinical_category"),
        ({"sex": "other"}, "sex"),
        ({"date_of_birth": dt.date.today() + dt.timedelta(days=2)}, "date_of_birth"),
        ({"name_latin": ""}, "name_latin"),
    ],
)
def test_patient_register_refuses_bad_data(facility, coordinator, overrides, field):
    with refused(ValidationError) as info:
        patient_register(actor=coordinator, **patient_data(facility, **overrides))
    assert field in info.value.message_dict


# --- patient_update -------------------------------------------------------------------------


def test_patient_update_changes_details_but_not_status_or_place(patient, coordinator):
    since = mark()
    updated = patient_update(patient=patient, actor=coordinator, priority="critical", phone="+1")
    patient.refresh_from_db()
    assert (patient.priority, patient.phone) == ("critical", "+1")
    assert (patient.status, patient.registered_at) == ("waiting", REGISTERED)
    assert updated.priority == "critical"
    # A priority change moves the case in the queue: recorded by field name, never by value.
    assert_event(
        the_event_since(since),
        subject_type="patient",
        subject_ref=patient.case_reference,
        action="update",
        actor=coordinator,
        details={"fields": ["phone", "priority"]},
    )
    assert notifications_since(since) == []


def test_patient_update_without_a_change_writes_nothing(patient, coordinator):
    since = mark()
    patient_update(patient=patient, actor=coordinator, priority=patient.priority)
    assert events_since(since) == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"status": "evacuated"}, "status"),
        ({"case_reference": "EV-AAAAAA"}, "case_reference"),
        ({"priority": "someday"}, "priority"),
        ({"date_of_birth": dt.date.today() + dt.timedelta(days=2)}, "date_of_birth"),
    ],
)
def test_patient_update_refuses_bad_data(patient, coordinator, changes, field):
    with refused(ValidationError) as info:
        patient_update(patient=patient, actor=coordinator, **changes)
    assert field in info.value.message_dict


# --- patient_set_status ---------------------------------------------------------------------


@pytest.mark.parametrize("status", ["deceased", "withdrawn"])
def test_patient_set_status_from_waiting(patient, coordinator, status):
    since = mark()
    patient_set_status(patient=patient, status=status, actor=coordinator, reason_text="family")
    patient.refresh_from_db()
    assert patient.status == status
    assert_event(
        the_event_since(since),
        subject_type="patient",
        subject_ref=patient.case_reference,
        subject_facility_id=patient.facility_id,
        action="status_change",
        from_state="waiting",
        to_state=status,
        actor_id=coordinator.pk,
        reason_text="family",
    )
    assert notifications_since(since) == []


def test_patient_set_status_refused_while_scheduled(facility, ready_patient, coordinator):
    patient = ready_patient()
    batch = factories.BatchFactory(staging_facility=facility)
    batch_add_patient(batch=batch, patient=patient, actor=coordinator)
    with refused(match=f"patient {patient.case_reference} is in an open batch"):
        patient_set_status(patient=patient, status="deceased", actor=coordinator)


def test_patient_set_status_refused_once_final(patient, coordinator):
    patient_set_status(patient=patient, status="withdrawn", actor=coordinator)
    with refused(match="is withdrawn and cannot become deceased"):
        patient_set_status(patient=patient, status="deceased", actor=coordinator)


@pytest.mark.parametrize("status", ["waiting", "scheduled", "evacuated", "alive"])
def test_patient_set_status_only_deceased_or_withdrawn(patient, coordinator, status):
    with refused(ValidationError) as info:
        patient_set_status(patient=patient, status=status, actor=coordinator)
    assert set(info.value.message_dict) == {"status"}


# --- companion_add --------------------------------------------------------------------------


def test_companion_add_adult_guardian(patient, coordinator, today):
    since = mark()
    companion = companion_add(
        patient=patient,
        actor=coordinator,
        name_latin="Sami Saleh",
        name_arabic="سامي صالح",
        national_id="801234567",
        date_of_birth=born(18, today),
        sex="male",
        relationship="father",
        is_guardian=True,
    )
    companion.refresh_from_db()
    assert (companion.patient, companion.is_guardian) == (patient, True)
    assert_event(
        the_event_since(since),
        subject_type="patient",
        subject_ref=patient.case_reference,
        action="companion_add",
        details={"companion": companion.pk, "guardian": True},
    )
    assert "Sami" not in str(the_event_since(since).details)
    assert notifications_since(since) == []


def test_companion_add_refuses_a_minor_guardian(patient, coordinator, today):
    with refused(ValidationError) as info:
        companion_add(
            patient=patient,
            actor=coordinator,
            name_latin="Young Saleh",
            name_arabic="صغير",
            national_id="801234568",
            date_of_birth=born(18, today, days=1),
            sex="male",
            relationship="brother",
            is_guardian=True,
        )
    assert "is_guardian" in info.value.message_dict


def test_companion_add_accepts_a_minor_who_is_not_guardian(patient, coordinator, today):
    companion = companion_add(
        patient=patient,
        actor=coordinator,
        name_latin="Young Saleh",
        name_arabic="صغير",
        national_id="801234568",
        date_of_birth=born(12, today),
        sex="male",
        relationship="brother",
    )
    assert companion.pk and not companion.is_guardian


def test_companion_add_refuses_unknown_fields(patient, coordinator):
    with refused(ValidationError) as info:
        companion_add(patient=patient, actor=coordinator, patient_id=1, name_latin="x")
    assert "patient_id" in info.value.message_dict


# --- referrals ------------------------------------------------------------------------------


def referral_data(facility, **overrides):
    return {
        "number": "MOH-2026-0001",
        "specialty": "nephrology",
        "referring_facility": facility,
        "destination_country": "Egypt",
        "destination_hospital": "Al-Arish General",
        "issued_on": dt.date(2026, 1, 1),
        "expires_on": dt.date(2026, 12, 31),
        **overrides,
    }


def test_referral_create_starts_pending(patient, facility, coordinator):
    since = mark()
    referral = referral_create(patient=patient, actor=coordinator, **referral_data(facility))
    referral.refresh_from_db()
    assert (referral.patient, referral.status) == (patient, "pending")
    assert_event(
        the_event_since(since),
        subject_type="referral",
        subject_ref=patient.case_reference,
        action="create",
        to_state="pending",
        details={"referral_id": referral.pk},
    )
    assert notifications_since(since) == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"expires_on": dt.date(2025, 12, 31)}, "expires_on"),
        ({"status": "approved"}, "status"),
        ({"number": ""}, "number"),
    ],
)
def test_referral_create_refuses_bad_data(patient, facility, coordinator, overrides, field):
    with refused(ValidationError) as info:
        referral_create(patient=patient, actor=coordinator, **referral_data(facility, **overrides))
    assert field in info.value.message_dict


def test_referral_create_refuses_a_duplicate_number(patient, facility, coordinator):
    referral_create(patient=patient, actor=coordinator, **referral_data(facility))
    with refused(ValidationError) as info:
        referral_create(patient=patient, actor=coordinator, **referral_data(facility))
    assert "number" in info.value.message_dict


ALLOWED = [
    ("pending", "approved"),
    ("pending", "rejected"),
    ("approved", "expired"),
]
REFUSED = [
    ("pending", "expired"),
    ("pending", "pending"),
    ("approved", "approved"),
    ("approved", "rejected"),
    ("approved", "pending"),
    ("rejected", "approved"),
    ("rejected", "pending"),
    ("expired", "approved"),
]


@pytest.mark.parametrize(("old", "new"), ALLOWED)
def test_referral_decide_declared_transitions(patient, coordinator, old, new):
    referral = factories.ReferralFactory(patient=patient, status=old)
    since = mark()
    referral_decide(referral=referral, status=new, actor=coordinator)
    referral.refresh_from_db()
    assert referral.status == new
    assert_event(
        the_event_since(since),
        subject_type="referral",
        subject_ref=patient.case_reference,
        subject_facility_id=patient.facility_id,
        action="referral_decision",
        from_state=old,
        to_state=new,
        actor_id=coordinator.pk,
        actor_role="coordinator",
        details={"referral_id": referral.pk},
    )
    assert notifications_since(since) == []


@pytest.mark.parametrize(("old", "new"), REFUSED)
def test_referral_decide_refuses_undeclared_transitions(patient, coordinator, old, new):
    referral = factories.ReferralFactory(patient=patient, status=old)
    with refused(match=f"referral {referral.number} is {old} and cannot become {new}"):
        referral_decide(referral=referral, status=new, actor=coordinator)


def test_referral_decide_refuses_unknown_status(patient, coordinator):
    referral = factories.ReferralFactory(patient=patient, status="pending")
    with refused(ValidationError) as info:
        referral_decide(referral=referral, status="lost", actor=coordinator)
    assert set(info.value.message_dict) == {"status"}


def test_referral_decide_approval_makes_the_patient_eligible(facility, patient, coordinator):
    Referral.objects.filter(patient=patient).delete()
    referral = factories.ReferralFactory(patient=patient, status="pending")
    batch = factories.BatchFactory(staging_facility=facility)
    with pytest.raises(TransitionRefused, match="has no approved referral"):
        batch_add_patient(batch=batch, patient=patient, actor=coordinator)
    referral_decide(referral=referral, status="approved", actor=coordinator)
    assert batch_add_patient(batch=batch, patient=patient, actor=coordinator)


# --- readiness_update -----------------------------------------------------------------------


def test_readiness_update_keeps_history_and_logs_flags_only(patient, nurse):
    old = Readiness.objects.get(patient=patient).snapshot()
    since = mark()

    readiness = readiness_update(
        patient=patient, actor=nurse, fit_to_travel=False, note="needs dialysis before leaving"
    )

    readiness.refresh_from_db()
    new = {**old, "fit_to_travel": False, "note": "needs dialysis before leaving"}
    assert readiness.snapshot() == new
    assert readiness.updated_by == nurse
    change = ReadinessChange.objects.get(patient=patient)
    assert (change.old, change.new, change.changed_by) == (old, new, nurse)
    assert change.changed_at == readiness.updated_at
    event = the_event_since(since)
    assert_event(
        event,
        subject_type="patient",
        subject_ref=patient.case_reference,
        subject_facility_id=patient.facility_id,
        action="readiness_update",
        actor_id=nurse.pk,
        actor_role="hospital_staff",
        actor_facility_id=nurse.facility_id,
        details={"fit_to_travel": False},
    )
    assert event_holds_no_identity(event, "dialysis")
    assert notifications_since(since) == []


def test_readiness_update_note_only_logs_no_flags(patient, nurse):
    since = mark()
    readiness_update(patient=patient, actor=nurse, note="waiting for the oxygen supplier")
    assert ReadinessChange.objects.filter(patient=patient).count() == 1
    event = the_event_since(since)
    assert (event.action, event.details) == ("readiness_update", {})


def test_readiness_update_without_change_writes_nothing(patient, nurse):
    current = Readiness.objects.get(patient=patient).snapshot()
    before_update = Readiness.objects.get(patient=patient).updated_at
    since = mark()
    readiness_update(patient=patient, actor=nurse, **current)
    assert events_since(since) == []
    assert not ReadinessChange.objects.filter(patient=patient).exists()
    assert Readiness.objects.get(patient=patient).updated_at == before_update


def test_readiness_update_each_change_is_a_history_row(patient, nurse, coordinator):
    readiness_update(patient=patient, actor=nurse, documents_ready=False)
    readiness_update(patient=patient, actor=coordinator, documents_ready=True)
    history = list(ReadinessChange.objects.filter(patient=patient).order_by("pk"))
    assert [(h.old["documents_ready"], h.new["documents_ready"]) for h in history] == [
        (True, False),
        (False, True),
    ]
    assert [h.changed_by for h in history] == [nurse, coordinator]


@pytest.mark.parametrize("field", ["fit", "updated_by", "updated_at", "diagnosis"])
def test_readiness_update_refuses_unknown_fields(patient, nurse, field):
    with refused(ValidationError) as info:
        readiness_update(patient=patient, actor=nurse, **{field: True})
    assert set(info.value.message_dict) == {field}


def test_readiness_update_refuses_a_bad_value(patient, nurse):
    with refused(ValidationError) as info:
        readiness_update(patient=patient, actor=nurse, fit_to_travel="perhaps")
    assert "fit_to_travel" in info.value.message_dict


# --- returnees ------------------------------------------------------------------------------


def test_returnee_register_joins_the_queue(coordinator):
    since = mark()
    returnee = returnee_register(actor=coordinator, **returnee_data())
    returnee.refresh_from_db()
    assert returnee.status == "waiting"
    assert re.fullmatch(r"RT-[2-9A-HJKMNP-Z]{6}", returnee.reference)
    event = the_event_since(since)
    assert_event(
        event,
        subject_type="returnee",
        subject_ref=returnee.reference,
        action="register",
        from_state="",
        to_state="waiting",
        actor_id=coordinator.pk,
    )
    assert event_holds_no_identity(event, "Omar", "عمر", "901234567")
    assert notifications_since(since) == []


def test_returnee_register_accepts_the_first_eligible_day(coordinator, settings):
    day = dt.date.fromisoformat(settings.RETURN_ELIGIBLE_LEFT_AFTER)
    assert returnee_register(actor=coordinator, **returnee_data(left_on=day)).pk


@pytest.mark.parametrize("days", [1, 400])
def test_returnee_register_refuses_who_left_before_the_war(coordinator, settings, days):
    day = dt.date.fromisoformat(settings.RETURN_ELIGIBLE_LEFT_AFTER) - dt.timedelta(days=days)
    with refused(ValidationError, match="left_on") as info:
        returnee_register(actor=coordinator, **returnee_data(left_on=day))
    assert set(info.value.message_dict) == {"left_on"}
    assert settings.RETURN_ELIGIBLE_LEFT_AFTER in info.value.message_dict["left_on"][0]


def test_returnee_register_follows_the_setting(coordinator, settings):
    settings.RETURN_ELIGIBLE_LEFT_AFTER = "2024-06-01"
    with refused(ValidationError) as info:
        returnee_register(actor=coordinator, **returnee_data(left_on=dt.date(2024, 5, 31)))
    assert set(info.value.message_dict) == {"left_on"}


def test_returnee_register_refuses_a_future_departure(coordinator, today):
    with refused(ValidationError) as info:
        returnee_register(actor=coordinator, **returnee_data(left_on=today + dt.timedelta(days=1)))
    assert set(info.value.message_dict) == {"left_on"}


def test_returnee_register_refuses_unknown_fields(coordinator):
    with refused(ValidationError) as info:
        returnee_register(actor=coordinator, **returnee_data(status="returned"))
    assert "status" in info.value.message_dict
    assert not Returnee.objects.exists()


def test_returnee_withdraw_from_waiting(coordinator):
    returnee = factories.ReturneeFactory()
    since = mark()
    returnee_withdraw(returnee=returnee, actor=coordinator, reason_text="stays abroad")
    returnee.refresh_from_db()
    assert returnee.status == "withdrawn"
    assert_event(
        the_event_since(since),
        subject_type="returnee",
        subject_ref=returnee.reference,
        action="status_change",
        from_state="waiting",
        to_state="withdrawn",
        actor_id=coordinator.pk,
        reason_text="stays abroad",
    )
    assert notifications_since(since) == []


def test_returnee_withdraw_refused_while_scheduled(facility, coordinator):
    returnee = factories.ReturneeFactory()
    batch = factories.BatchFactory(staging_facility=facility, direction="return")
    batch_add_returnee(batch=batch, returnee=returnee, actor=coordinator)
    with refused(match=f"returnee {returnee.reference} is in an open batch"):
        returnee_withdraw(returnee=returnee, actor=coordinator)


def test_returnee_withdraw_refused_twice(coordinator):
    returnee = factories.ReturneeFactory()
    returnee_withdraw(returnee=returnee, actor=coordinator)
    with refused(match="is withdrawn and cannot become withdrawn"):
        returnee_withdraw(returnee=returnee, actor=coordinator)
