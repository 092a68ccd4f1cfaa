"""Registrations, deaths and withdrawals recorded after the fact: each takes `occurred_at`
(default now), refused in the future and, for a death or a withdrawal, before the registration.
The queue, the deaths report and the journey read when it occurred."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from batches.reports.selectors import Period, deaths_while_waiting, patient_journey
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
    batch_remove_member,
    batch_submit,
)
from batches.services.clearance import batch_record_clearances, pending_decisions
from casetracker.audit.models import Event
from patients.models import Patient, Returnee
from patients.services import (
    RegistrationRefused,
    patient_register,
    patient_register_with_family,
    patient_set_status,
    readiness_update,
    returnee_register,
    returnee_withdraw,
)
from tests import factories
from tests.api_helpers import patient_body
from tests.html_forms import read_form
from tests.service_helpers import (
    REGISTERED,
    assert_event,
    mark,
    notifications_since,
    refused,
    the_event_since,
)

pytestmark = pytest.mark.django_db

PATIENTS = "/api/v1/patients/"
RETURNEES = "/api/v1/returnees/"


def ago(days: float = 0, hours: float = 0) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days, hours=hours)


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def patient_data(facility, **overrides):
    return {
        "name_latin": "Amal Saleh",
        "name_arabic": "أمل صالح",
        "national_id": "401234567",
        "date_of_birth": dt.date(1990, 6, 1),
        "sex": "female",
        "facility": facility,
        "priority": "urgent",
        "clinical_category": "renal",
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


@pytest.fixture
def waiting(facility):
    return factories.PatientFactory(facility=facility, registered_at=REGISTERED)


# --- Registration ---------------------------------------------------------------------------


def test_patient_register_takes_when_the_person_registered(facility, coordinator):
    registered = ago(days=6)
    since = mark()
    patient = patient_register(actor=coordinator, occurred_at=registered, **patient_data(facility))
    assert Patient.objects.get(pk=patient.pk).registered_at == registered
    event = the_event_since(since)
    assert_event(event, action="register", subject_ref=patient.case_reference)
    assert event.occurred_at == registered and event.recorded_late


def test_patient_register_without_a_time_registers_now(facility, coordinator):
    before = timezone.now()
    since = mark()
    patient = patient_register(actor=coordinator, **patient_data(facility))
    event = the_event_since(since)
    assert before <= patient.registered_at == event.occurred_at <= event.created_at
    assert not event.recorded_late


def test_patient_register_refuses_a_time_in_the_future(facility, coordinator):
    with refused(ValidationError, match="in the future") as info:
        patient_register(
            actor=coordinator,
            occurred_at=timezone.now() + dt.timedelta(hours=1),
            **patient_data(facility),
        )
    assert list(info.value.message_dict) == ["occurred_at"]


def test_patient_register_refuses_a_registration_backdated_beyond_the_limit(facility, coordinator):
    """At most `REGISTRATION_BACKDATE_DAYS` (7) days back: the time is the place in the queue."""
    with refused(ValidationError, match="more than 7 days ago: a registration may be") as info:
        patient_register(actor=coordinator, occurred_at=ago(days=8), **patient_data(facility))
    assert list(info.value.message_dict) == ["occurred_at"]
    since = mark()
    registered = ago(days=7) + dt.timedelta(minutes=1)
    patient = patient_register(actor=coordinator, occurred_at=registered, **patient_data(facility))
    assert patient.registered_at == registered
    assert_event(the_event_since(since), action="register", occurred_at=registered)


def test_registration_backdate_limit_is_a_setting(facility, coordinator, settings):
    settings.REGISTRATION_BACKDATE_DAYS = 1
    with refused(ValidationError, match="more than 1 day ago"):
        patient_register(actor=coordinator, occurred_at=ago(days=2), **patient_data(facility))
    with refused(ValidationError, match="more than 1 day ago"):
        returnee_register(actor=coordinator, occurred_at=ago(days=2), **returnee_data())
    settings.REGISTRATION_BACKDATE_DAYS = 30
    assert patient_register(
        actor=coordinator, occurred_at=ago(days=29), **patient_data(facility)
    ).pk


def test_returnee_and_family_registrations_refuse_a_registration_backdated_too_far(
    facility, coordinator
):
    with refused(ValidationError, match="more than 7 days ago") as info:
        returnee_register(actor=coordinator, occurred_at=ago(days=10), **returnee_data())
    assert list(info.value.message_dict) == ["occurred_at"]
    with refused(RegistrationRefused) as info:
        patient_register_with_family(
            actor=coordinator,
            patient=patient_data(facility),
            companions=[],
            referral=None,
            occurred_at=ago(days=10),
        )
    assert list(info.value.message_dict) == ["patient.occurred_at"]


def test_api_registration_backdated_too_far_is_400_naming_occurred_at(api, coordinator, facility):
    response = api(coordinator).post(
        PATIENTS, patient_body(occurred_at=ago(days=30).isoformat()), format="json"
    )
    assert response.status_code == 400
    assert "at most 7 days after it happened" in response.json()["occurred_at"][0]
    assert not Patient.objects.exists()
    assert not Event.objects.filter(action="register").exists()


def test_registered_late_takes_the_queue_place_of_when_they_registered(facility, coordinator):
    live = patient_register(actor=coordinator, **patient_data(facility))
    late = patient_register(
        actor=coordinator,
        occurred_at=ago(days=3),
        **patient_data(facility, national_id="401234568", name_latin="Huda Saleh"),
    )
    assert list(Patient.objects.queue_order()) == [late, live]


def test_register_with_family_registers_the_case_when_it_happened(facility, coordinator):
    registered = ago(days=2)
    case = patient_register_with_family(
        actor=coordinator,
        patient=patient_data(facility),
        companions=[],
        referral=None,
        occurred_at=registered,
    )
    assert case.registered_at == registered
    with refused(RegistrationRefused) as info:
        patient_register_with_family(
            actor=coordinator,
            patient=patient_data(facility, national_id="401234568"),
            companions=[],
            referral=None,
            occurred_at=timezone.now() + dt.timedelta(days=1),
        )
    assert list(info.value.message_dict) == ["patient.occurred_at"]


def test_returnee_register_takes_when_the_person_registered(coordinator):
    registered = ago(days=5)
    since = mark()
    returnee = returnee_register(actor=coordinator, occurred_at=registered, **returnee_data())
    assert Returnee.objects.get(pk=returnee.pk).registered_at == registered
    assert the_event_since(since).occurred_at == registered
    with refused(ValidationError, match="in the future"):
        returnee_register(
            actor=coordinator,
            occurred_at=timezone.now() + dt.timedelta(days=1),
            **returnee_data(national_id="901234568"),
        )


# --- Deaths and withdrawals -------------------------------------------------------------------


@pytest.mark.parametrize("status", ["deceased", "withdrawn"])
def test_patient_set_status_keeps_when_it_happened(waiting, coordinator, status):
    happened = ago(days=4)
    since = mark()
    patient_set_status(patient=waiting, status=status, actor=coordinator, occurred_at=happened)
    event = the_event_since(since)
    assert_event(
        event, action="status_change", from_state="waiting", to_state=status, occurred_at=happened
    )
    assert event.created_at - happened > dt.timedelta(days=3)


def test_patient_set_status_refuses_a_time_before_the_registration(waiting, coordinator):
    with refused(ValidationError, match=f"before the registration of {waiting.case_reference}"):
        patient_set_status(
            patient=waiting,
            status="deceased",
            actor=coordinator,
            occurred_at=REGISTERED - dt.timedelta(minutes=1),
        )
    patient_set_status(
        patient=waiting, status="deceased", actor=coordinator, occurred_at=REGISTERED
    )


def test_patient_set_status_refuses_a_time_in_the_future(waiting, coordinator):
    with refused(ValidationError, match="in the future") as info:
        patient_set_status(
            patient=waiting,
            status="withdrawn",
            actor=coordinator,
            occurred_at=timezone.now() + dt.timedelta(hours=2),
        )
    assert list(info.value.message_dict) == ["occurred_at"]


def test_returnee_withdraw_keeps_when_it_happened(coordinator):
    returnee = factories.ReturneeFactory(registered_at=REGISTERED)
    with refused(ValidationError, match="before the registration"):
        returnee_withdraw(
            returnee=returnee, actor=coordinator, occurred_at=REGISTERED - dt.timedelta(days=1)
        )
    with refused(ValidationError, match="in the future"):
        returnee_withdraw(
            returnee=returnee, actor=coordinator, occurred_at=timezone.now() + dt.timedelta(1)
        )
    since = mark()
    returnee_withdraw(returnee=returnee, actor=coordinator, occurred_at=ago(days=1))
    event = the_event_since(since)
    assert (event.to_state, event.recorded_late) == ("withdrawn", True)


# --- A death or a withdrawal follows the person's latest step ---------------------------------


def _vetted_yesterday(coordinator, facility, people, *, rejected=(), kind="patient"):
    """A batch planned yesterday, opened at 06:00, prepared 07:00, submitted 08:00, every
    clearance decided at 09:00 (rejected for the people in `rejected`); returns it submitted."""
    day = timezone.localdate() - dt.timedelta(days=1)
    direction = "exit" if kind == "patient" else "return"
    factories.QuotaFactory(date=day, direction=direction)
    batch = batch_create(
        actor=coordinator,
        direction=direction,
        planned_date=day,
        staging_facility=facility,
        occurred_at=local(day, 6),
    )
    add = batch_add_patient if kind == "patient" else batch_add_returnee
    for person in people:
        add(batch=batch, actor=coordinator, **{kind: person})
    batch = batch_prepare(batch=batch, actor=coordinator, occurred_at=local(day, 7))
    batch = batch_submit(batch=batch, actor=coordinator, occurred_at=local(day, 8))
    for line in batch.members.order_by("id"):
        person = line.patient or line.returnee
        batch_record_clearance(
            batch=batch,
            member=line,
            clearance="rejected" if person in rejected else "approved",
            actor=coordinator,
            occurred_at=local(day, 9),
        )
    return batch, day


@pytest.fixture
def sent_back_by_a_cancellation(facility, coordinator, ready_patient):
    """A patient on yesterday's batch, cancelled at 11:40 (recorded now): back to waiting."""
    patient = ready_patient(registered_at=REGISTERED)
    batch, day = _vetted_yesterday(coordinator, facility, [patient])
    cancelled_at = local(day, 11, 40)
    batch_cancel(
        batch=batch,
        actor=coordinator,
        reason_code="no_reason_given",
        reason_text="Called off at the gate",
        source="who",
        occurred_at=cancelled_at,
    )
    patient.refresh_from_db()
    assert patient.status == "waiting"
    return patient, batch, cancelled_at


@pytest.mark.parametrize("status", ["deceased", "withdrawn"])
def test_patient_set_status_refuses_a_time_before_the_cancellation_that_sent_them_back(
    sent_back_by_a_cancellation, coordinator, status
):
    patient, batch, cancelled_at = sent_back_by_a_cancellation
    with refused(
        ValidationError,
        match=f"before the latest step of {patient.case_reference}: cancelled, batch {batch.code}",
    ) as info:
        patient_set_status(
            patient=patient,
            status=status,
            actor=coordinator,
            occurred_at=cancelled_at - dt.timedelta(seconds=30),
        )
    assert list(info.value.message_dict) == ["occurred_at"]
    since = mark()
    patient_set_status(patient=patient, status=status, actor=coordinator, occurred_at=cancelled_at)
    assert_event(
        the_event_since(since),
        action="status_change",
        from_state="waiting",
        to_state=status,
        occurred_at=cancelled_at,
    )
    assert notifications_since(since) == []


def test_api_status_refuses_a_death_before_the_cancellation(
    sent_back_by_a_cancellation, api, coordinator
):
    patient, _batch, cancelled_at = sent_back_by_a_cancellation
    response = api(coordinator).post(
        f"{PATIENTS}{patient.case_reference}/status/",
        {"status": "deceased", "occurred_at": (cancelled_at - dt.timedelta(minutes=5)).isoformat()},
        format="json",
    )
    assert response.status_code == 400
    assert "cancelled, batch" in response.json()["occurred_at"][0]
    patient.refresh_from_db()
    assert patient.status == "waiting"


def test_patient_set_status_follows_the_clearing_that_left_them_behind_not_later_steps(
    facility, coordinator, ready_patient
):
    """Refused at vetting: the batch's `clear` (10:00) sent them back to the queue. What the
    batch did afterwards (it departed at 12:00) no longer concerns them."""
    refused_one, travels = ready_patient(registered_at=REGISTERED), ready_patient()
    batch, day = _vetted_yesterday(
        coordinator, facility, [refused_one, travels], rejected=[refused_one]
    )
    batch = batch_clear(batch=batch, actor=coordinator, occurred_at=local(day, 10))
    batch_depart(batch=batch, actor=coordinator, occurred_at=local(day, 12))
    with refused(ValidationError, match="cleared, batch"):
        patient_set_status(
            patient=refused_one,
            status="deceased",
            actor=coordinator,
            occurred_at=local(day, 9, 30),
        )
    since = mark()
    patient_set_status(
        patient=refused_one, status="deceased", actor=coordinator, occurred_at=local(day, 11)
    )
    assert the_event_since(since).occurred_at == local(day, 11)


def test_patient_set_status_is_not_held_by_what_was_typed_in_later(
    facility, coordinator, nurse, ready_patient
):
    """Readiness ticked this morning, the patient taken off a draft just now (both recorded
    when typed, not steps with a time of their own): a death last night is still recorded on
    its day."""
    patient = ready_patient(registered_at=REGISTERED)
    readiness_update(patient=patient, actor=nurse, note="Seen on the ward round")
    draft = batch_create(
        actor=coordinator,
        direction="exit",
        planned_date=timezone.localdate(),
        staging_facility=facility,
    )
    batch_add_patient(batch=draft, patient=patient, actor=coordinator)
    batch_remove_member(batch=draft, member=draft.members.get(), actor=coordinator)
    last_night = local(timezone.localdate() - dt.timedelta(days=1), 23)
    since = mark()
    patient_set_status(
        patient=patient, status="deceased", actor=coordinator, occurred_at=last_night
    )
    assert the_event_since(since).occurred_at == last_night


def test_returnee_withdraw_refuses_a_time_before_the_cancellation_that_sent_them_back(
    facility, coordinator
):
    returnee = factories.ReturneeFactory(registered_at=REGISTERED)
    batch, day = _vetted_yesterday(coordinator, facility, [returnee], kind="returnee")
    batch_cancel(
        batch=batch,
        actor=coordinator,
        reason_code="security",
        reason_text="Closed for the day",
        source="border_authority",
        occurred_at=local(day, 11),
    )
    with refused(ValidationError, match=f"latest step of {returnee.reference}: cancelled"):
        returnee_withdraw(returnee=returnee, actor=coordinator, occurred_at=local(day, 10))
    since = mark()
    returnee_withdraw(returnee=returnee, actor=coordinator, occurred_at=local(day, 11, 5))
    assert_event(the_event_since(since), to_state="withdrawn", occurred_at=local(day, 11, 5))


# --- Reports ----------------------------------------------------------------------------------


@pytest.fixture
def died_late(facility, coordinator, settings):
    """Registered 40 days ago; died 3 days ago at 22:00; recorded now (a deployment that lets
    older registrations be typed in, as for an import of a paper list)."""
    settings.REGISTRATION_BACKDATE_DAYS = 60
    day = timezone.localdate() - dt.timedelta(days=3)
    patient = patient_register(
        actor=coordinator,
        occurred_at=local(day - dt.timedelta(days=37), 9),
        **patient_data(facility),
    )
    patient_set_status(
        patient=patient, status="deceased", actor=coordinator, occurred_at=local(day, 22)
    )
    return patient, day


def test_death_recorded_late_is_counted_on_its_day(died_late, auditor):
    patient, day = died_late
    [row] = deaths_while_waiting(auditor, period=Period(day, day))
    assert (row.case_reference, row.died_at, row.days_waited) == (
        patient.case_reference,
        local(day, 22),
        37,
    )
    assert row.recorded_at > row.died_at
    today = timezone.localdate()
    assert deaths_while_waiting(auditor, period=Period(day + dt.timedelta(days=1), today)) == []


def test_deaths_api_rows_carry_both_times(died_late, api, auditor):
    _patient, day = died_late
    response = api(auditor).get("/api/v1/reports/deaths/", {"date_from": day, "date_to": day})
    assert response.status_code == 200, response.content
    [row] = response.json()["results"]
    assert dt.datetime.fromisoformat(row["died_at"]) == local(day, 22)
    assert dt.datetime.fromisoformat(row["recorded_at"]) > local(day, 22)


def test_journey_wait_ends_when_the_death_occurred(died_late, auditor):
    patient, _day = died_late
    patient.refresh_from_db()
    assert patient_journey(auditor, patient).days_since_registration == 37


def test_journey_of_a_case_registered_and_crossed_late_shows_no_negative_wait(
    facility, coordinator, auditor, settings
):
    """Everything recorded this morning: registered 60 days ago, crossed 10 days ago."""
    settings.REGISTRATION_BACKDATE_DAYS = 90
    day = timezone.localdate() - dt.timedelta(days=10)
    factories.QuotaFactory(date=day)
    patient = patient_register(
        actor=coordinator,
        occurred_at=local(day - dt.timedelta(days=50), 10),
        **patient_data(facility),
    )
    factories.ReferralFactory(patient=patient)
    readiness_update(
        patient=patient,
        actor=coordinator,
        fit_to_travel=True,
        documents_ready=True,
        transport_confirmed=True,
    )
    batch = batch_create(
        actor=coordinator,
        direction="exit",
        planned_date=day,
        staging_facility=facility,
        occurred_at=local(day - dt.timedelta(days=1), 12),
    )
    batch_add_patient(batch=batch, patient=patient, actor=coordinator)
    batch = batch_prepare(batch=batch, actor=coordinator, occurred_at=local(day, 6))
    batch = batch_submit(batch=batch, actor=coordinator, occurred_at=local(day, 7))
    batch_record_clearances(
        batch=batch,
        actor=coordinator,
        decisions=pending_decisions(batch),
        occurred_at=local(day, 9),
    )
    batch = batch_clear(batch=batch, actor=coordinator, occurred_at=local(day, 9))
    batch = batch_depart(batch=batch, actor=coordinator, occurred_at=local(day, 10))
    line = batch.members.get()
    batch_cross(
        batch=batch, actor=coordinator, outcomes={line.pk: "crossed"}, occurred_at=local(day, 14)
    )
    journey = patient_journey(auditor, patient)
    assert (journey.crossed_on, journey.days_since_registration) == (day, 50)


# --- The API ----------------------------------------------------------------------------------


def test_api_registration_takes_occurred_at(api, coordinator, facility):
    registered = ago(days=6)
    response = api(coordinator).post(
        PATIENTS, patient_body(occurred_at=registered.isoformat()), format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert dt.datetime.fromisoformat(body["registered_at"]) == registered
    assert "occurred_at" not in body


def test_api_registration_refuses_a_time_in_the_future(api, coordinator, facility):
    future = (timezone.now() + dt.timedelta(days=1)).isoformat()
    response = api(coordinator).post(PATIENTS, patient_body(occurred_at=future), format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["occurred_at"]
    assert not Patient.objects.exists()


def test_api_update_does_not_take_occurred_at(api, coordinator, waiting):
    response = api(coordinator).patch(
        f"{PATIENTS}{waiting.case_reference}/",
        {"occurred_at": ago(days=1).isoformat(), "priority": "critical"},
        format="json",
    )
    # Not a field of a change: ignored, as every unknown field of a DRF body.
    assert response.status_code == 200, response.content
    waiting.refresh_from_db()
    assert waiting.registered_at == REGISTERED


def test_api_status_takes_the_date_of_death(api, coordinator, waiting):
    died = local(timezone.localdate() - dt.timedelta(days=2), 5, 30)
    response = api(coordinator).post(
        f"{PATIENTS}{waiting.case_reference}/status/",
        {"status": "deceased", "occurred_at": died.isoformat()},
        format="json",
    )
    assert response.status_code == 200, response.content
    event = Event.objects.get(subject_ref=waiting.case_reference, action="status_change")
    assert event.occurred_at == died


def test_api_status_refuses_a_time_before_the_registration(api, coordinator, waiting):
    response = api(coordinator).post(
        f"{PATIENTS}{waiting.case_reference}/status/",
        {"status": "deceased", "occurred_at": "2020-01-01T10:00:00+02:00"},
        format="json",
    )
    assert response.status_code == 400
    assert "before the registration" in response.json()["occurred_at"][0]
    waiting.refresh_from_db()
    assert waiting.status == "waiting"


def test_api_returnee_registration_and_withdrawal_take_occurred_at(api, coordinator):
    registered, withdrew = ago(days=6), ago(days=1)
    body = {
        "name_latin": "Sami Nasser",
        "name_arabic": "سامي ناصر",
        "national_id": "901234567",
        "date_of_birth": "1990-03-03",
        "sex": "male",
        "left_on": "2024-05-01",
        "occurred_at": registered.isoformat(),
    }
    response = api(coordinator).post(RETURNEES, body, format="json")
    assert response.status_code == 201, response.content
    reference = response.json()["reference"]
    assert dt.datetime.fromisoformat(response.json()["registered_at"]) == registered
    response = api(coordinator).post(
        f"{RETURNEES}{reference}/withdraw/", {"occurred_at": withdrew.isoformat()}, format="json"
    )
    assert response.status_code == 200, response.content
    event = Event.objects.get(subject_ref=reference, action="status_change")
    assert event.occurred_at == withdrew


def test_schema_documents_occurred_at(client, coordinator):
    client.force_login(coordinator)
    schema = client.get("/api/schema/", {"format": "json"}).json()
    paths, components = schema["paths"], schema["components"]["schemas"]

    def body(path, method="post"):
        content = paths[path][method]["requestBody"]["content"]["application/json"]
        return components[content["schema"]["$ref"].rsplit("/", 1)[1]]["properties"]

    status = body("/api/v1/patients/{case_reference}/status/")["occurred_at"]
    assert status["format"] == "date-time"
    assert "died or withdrew" in status["description"]
    assert "occurred_at" in body("/api/v1/patients/")
    assert "occurred_at" not in body("/api/v1/patients/{case_reference}/", "patch")
    assert "occurred_at" in body("/api/v1/returnees/")
    assert "occurred_at" in body("/api/v1/returnees/{reference}/withdraw/")


# --- The pages --------------------------------------------------------------------------------


def _status_form(client, coordinator, patient):
    client.force_login(coordinator)
    url = reverse("patients:status", args=[patient.case_reference])
    return read_form(client.get(url), "#status")


def test_status_form_records_when_the_patient_died(client, coordinator, waiting):
    form = _status_form(client, coordinator, waiting)
    assert form.value("occurred_at") == ""
    died = local(timezone.localdate() - dt.timedelta(days=1), 23, 15)
    form.fill(status="deceased", reason_text="Told by the family", occurred_at="")
    form.fill(occurred_at=timezone.localtime(died).strftime("%Y-%m-%dT%H:%M"))
    assert form.submit(client).status_code == 302
    event = Event.objects.get(subject_ref=waiting.case_reference, action="status_change")
    assert (event.to_state, event.occurred_at) == ("deceased", died)
    page = client.get(reverse("patients:detail", args=[waiting.case_reference])).content.decode()
    assert "recorded" in page  # the case history gives both times


def test_status_form_refuses_a_time_before_the_registration(client, coordinator, waiting):
    form = _status_form(client, coordinator, waiting)
    form.fill(status="deceased", reason_text="Told by the family", occurred_at="2020-01-01T08:00")
    response = form.submit(client)
    assert response.status_code == 400
    html = response.content.decode()
    assert "before the registration" in html[html.index('name="occurred_at"') :]
    waiting.refresh_from_db()
    assert waiting.status == "waiting"
    assert not Event.objects.filter(action="status_change").exists()


def test_status_form_refuses_a_time_in_the_future(client, coordinator, waiting):
    form = _status_form(client, coordinator, waiting)
    tomorrow = timezone.localtime() + dt.timedelta(days=1)
    form.fill(status="withdrawn", reason_text="", occurred_at=tomorrow.strftime("%Y-%m-%dT%H:%M"))
    form.fill(reason_text="Phoned us")
    response = form.submit(client)
    assert response.status_code == 400
    assert "in the future" in response.content.decode()
    waiting.refresh_from_db()
    assert waiting.status == "waiting"
