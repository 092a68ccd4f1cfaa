"""The nurse's phone screen: the facility's patients on the next batches as cards with one-tap
readiness toggles, and the readiness endpoint behind them (plain form and htmx)."""

import datetime as dt

import pytest
from bs4 import BeautifulSoup
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from batches import services as batch_services
from casetracker.audit.models import Event
from patients.models import Readiness, ReadinessChange
from patients.services import readiness_update
from tests import factories
from tests.html_forms import read_form

pytestmark = pytest.mark.django_db

WARD = "/ward/"


def last_event_id() -> int:
    return Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.content.decode(), "html.parser")


def card(response, patient):
    return soup(response).select_one(f"#card-{patient.case_reference}")


def toggle(response, patient, flag):
    return card(response, patient).select_one(f'button.toggle[name="{flag}"]')


@pytest.fixture
def signed_in(client):
    def make(user):
        client.force_login(user)
        return client

    return make


@pytest.fixture
def on_batch(coordinator, facility):
    """`on_batch(patients, days=0)`: a draft batch planned in `days` with these patients."""

    def make(patients, days=0, staging=None):
        batch = batch_services.batch_create(
            actor=coordinator,
            direction="exit",
            planned_date=timezone.localdate() + dt.timedelta(days=days),
            staging_facility=staging or facility,
        )
        for patient in patients:
            batch_services.batch_add_patient(batch=batch, patient=patient, actor=coordinator)
        batch.refresh_from_db()
        return batch

    return make


# --- The page -------------------------------------------------------------------------------


def test_ward_groups_the_facility_patients_by_date_and_batch(
    signed_in, nurse, ready_patient, on_batch, other_facility
):
    urgent = ready_patient(priority="urgent")
    critical = ready_patient(priority="critical")
    later = ready_patient()
    waiting = ready_patient(priority="routine")
    elsewhere = ready_patient(facility=other_facility)
    in_two_days = on_batch([later], days=2)
    today_batch = on_batch([urgent, critical])
    on_batch([elsewhere])

    response = signed_in(nurse).get(WARD)

    assert response.status_code == 200
    page = soup(response)
    sections = page.select("section")
    assert [s.h2.select("bdi.code")[-1].get_text() for s in sections] == [
        today_batch.code,
        in_two_days.code,
    ]
    first = [a["id"] for a in sections[0].select("article.card")]
    assert first == [f"card-{critical.case_reference}", f"card-{urgent.case_reference}"]
    assert [a["id"] for a in sections[1].select("article.card")] == [f"card-{later.case_reference}"]
    # Below: who is still waiting at this facility.
    waiting_cards = page.select("h2 ~ .cards > article.card")
    assert f"card-{waiting.case_reference}" in [a["id"] for a in waiting_cards]
    body = response.content.decode()
    assert elsewhere.case_reference not in body
    assert 'dir="rtl"' in body and 'lang="ar"' in body
    assert "htmx" in body  # the page loads htmx for one-tap saving


def test_ward_card_shows_what_the_nurse_needs(
    signed_in, nurse, coordinator, facility, on_batch, today
):
    patient = factories.PatientFactory(
        facility=facility,
        name_latin="Salma Al-Farra",
        name_arabic="سلمى الفرا",
        date_of_birth=dt.date(today.year - 7, 1, 1),
        needs_wheelchair=True,
        readiness__documents_ready=False,
        diagnosis="SENTINEL-DIAGNOSIS",
        national_id="400999888",
    )
    factories.ReferralFactory(patient=patient)
    factories.CompanionFactory(patient=patient, is_guardian=True)
    batch = on_batch([patient], days=1)
    readiness_update(patient=patient, actor=coordinator, note="bring the inhaler")

    response = signed_in(nurse).get(WARD)

    box = card(response, patient)
    text = box.get_text(" ", strip=True)
    assert patient.case_reference in text
    assert "Salma Al-Farra" in text and "سلمى الفرا" in text
    assert box.select_one(".chip.child")
    with translation.override("ar"):  # the nurse reads Arabic
        assert box.select_one(".needs").get_text() == ", ".join(patient.mobility_needs())
    assert batch.code in text
    assert box.select_one("textarea[name=note]").get_text() == "bring the inhaler"
    assert "coordinator" in box.select_one(".last-change").get_text()
    flags = [b["name"] for b in box.select("button.toggle")]
    assert flags == [
        "fit_to_travel",
        "documents_ready",
        "companions_present",
        "transport_confirmed",
    ]
    assert toggle(response, patient, "documents_ready")["aria-pressed"] == "false"
    assert toggle(response, patient, "documents_ready")["value"] == "1"
    assert toggle(response, patient, "fit_to_travel")["aria-pressed"] == "true"
    assert toggle(response, patient, "fit_to_travel")["value"] == "0"
    body = response.content.decode()
    assert "SENTINEL-DIAGNOSIS" not in body
    assert "400999888" not in body


def test_ward_last_change_is_in_local_time(signed_in, nurse, ready_patient, settings):
    patient = ready_patient()
    client = signed_in(nurse)
    read_form(client.get(WARD), f"#readiness-{patient.case_reference}-fit_to_travel").submit(client)
    changed = Readiness.objects.get(patient=patient).updated_at
    local = timezone.localtime(changed)

    text = card(client.get(WARD), patient).select_one(".last-change").get_text()

    assert settings.TIME_ZONE == "Asia/Gaza"
    assert local.strftime("%H:%M") in text
    assert "nurse" in text


def test_ward_companions_toggle_only_when_there_are_companions(signed_in, nurse, ready_patient):
    alone = ready_patient()
    response = signed_in(nurse).get(WARD)
    names = [b["name"] for b in card(response, alone).select("button.toggle")]
    assert names == ["fit_to_travel", "documents_ready", "transport_confirmed"]


def test_ward_waiting_list_is_paginated(signed_in, nurse, ready_patient, monkeypatch):
    monkeypatch.setattr("patients.views.ward.PAGE_SIZE", 2)
    cases = [ready_patient(priority=p) for p in ("critical", "urgent", "routine")]
    client = signed_in(nurse)
    first = client.get(WARD)
    assert [a["id"] for a in soup(first).select("article.card")] == [
        f"card-{p.case_reference}" for p in cases[:2]
    ]
    second = client.get(WARD, {"page": 2})
    assert [a["id"] for a in soup(second).select("article.card")] == [
        f"card-{cases[2].case_reference}"
    ]


def test_ward_coordinator_sees_every_facility_and_filters_one(
    signed_in, coordinator, ready_patient, other_facility, facility, on_batch
):
    here = ready_patient()
    there = ready_patient(facility=other_facility)
    on_batch([there])
    client = signed_in(coordinator)

    everything = client.get(WARD)
    assert here.case_reference in everything.content.decode()
    assert there.case_reference in everything.content.decode()

    only = read_form(everything, "#ward-facility").fill(facility=facility.code).submit(client)
    assert here.case_reference in only.content.decode()
    assert there.case_reference not in only.content.decode()


def test_ward_leaves_out_batches_that_left_or_are_past(
    signed_in, nurse, coordinator, ready_patient, on_batch, today
):
    past = ready_patient()
    batch = on_batch([past])
    batch.planned_date = today - dt.timedelta(days=1)  # a draft left behind: not "next"
    batch.save()
    response = signed_in(nurse).get(WARD)
    assert not soup(response).select("section")


def test_ward_page_is_logged_as_a_readiness_list(signed_in, nurse, ready_patient, on_batch):
    scheduled = ready_patient()
    waiting = ready_patient()
    on_batch([scheduled])
    before = last_event_id()

    signed_in(nurse).get(WARD)

    (event,) = Event.objects.filter(pk__gt=before)
    assert (event.action, event.subject_ref) == ("view", "list")
    assert event.details == {
        "category": "readiness",
        "rows": 2,
        "results": [scheduled.case_reference, waiting.case_reference],
    }


def test_ward_queries_do_not_grow_with_the_cards(signed_in, nurse, facility, on_batch):
    def add(n):
        patients = []
        for _ in range(n):
            patient = factories.PatientFactory(facility=facility)
            factories.ReferralFactory(patient=patient)
            factories.CompanionFactory(patient=patient)
            patients.append(patient)
        return patients

    client = signed_in(nurse)
    on_batch(add(3))
    add(2)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(WARD).status_code == 200
        return len(ctx.captured_queries)

    count()
    few = count()
    on_batch(add(10), days=1)
    add(15)
    assert len(soup(client.get(WARD)).select("article.card")) == 30
    assert count() == few


@pytest.mark.parametrize("who", ["auditor", "other_nurse"])
def test_ward_refused_to_auditors_and_empty_for_another_facility(
    request, signed_in, ready_patient, who
):
    patient = ready_patient()
    user = request.getfixturevalue(who)
    response = signed_in(user).get(WARD)
    if who == "auditor":
        assert response.status_code == 403
    else:
        assert response.status_code == 200
        assert patient.case_reference not in response.content.decode()


def test_ward_anonymous_is_sent_to_sign_in(client, db):
    response = client.get(WARD)
    assert response.status_code == 302 and "/login/?next=" in response["Location"]


# --- Tapping a toggle -----------------------------------------------------------------------


def test_readiness_toggle_plain_form_saves_and_comes_back_to_the_card(
    signed_in, nurse, ready_patient
):
    patient = ready_patient(readiness__documents_ready=False)
    client = signed_in(nurse)
    page = client.get(WARD)
    form = read_form(page, f"#readiness-{patient.case_reference}-documents_ready")
    before = last_event_id()

    response = form.submit(client, button="documents_ready")

    assert response.status_code == 302
    assert response["Location"] == f"/ward/#card-{patient.case_reference}"
    readiness = Readiness.objects.get(patient=patient)
    assert readiness.documents_ready is True
    assert readiness.updated_by == nurse
    (change,) = ReadinessChange.objects.filter(patient=patient)
    assert change.changed_by == nurse
    assert (change.old["documents_ready"], change.new["documents_ready"]) == (False, True)
    (event,) = Event.objects.filter(pk__gt=before)
    assert (event.action, event.subject_ref, event.actor) == (
        "readiness_update",
        patient.case_reference,
        nurse,
    )
    assert event.details == {"documents_ready": True}
    after = client.get(response["Location"].split("#")[0])
    assert toggle(after, patient, "documents_ready")["aria-pressed"] == "true"
    (message,) = soup(after).select(".messages li")
    assert patient.case_reference in message.get_text()
    # The page opens at the card: the card itself says it was saved.
    assert patient.case_reference in card(after, patient).select_one("[role=status]").get_text()
    other_cards = soup(after).select("article.card [role=status]")
    assert len(other_cards) == 1


def test_readiness_toggle_off_again(signed_in, nurse, ready_patient):
    patient = ready_patient()
    client = signed_in(nurse)
    form = read_form(client.get(WARD), f"#readiness-{patient.case_reference}-fit_to_travel")
    form.submit(client)
    assert Readiness.objects.get(patient=patient).fit_to_travel is False
    change = ReadinessChange.objects.get(patient=patient)
    assert (change.old["fit_to_travel"], change.new["fit_to_travel"]) == (True, False)


def test_readiness_toggle_keeps_the_coordinators_filter(
    signed_in, coordinator, ready_patient, facility
):
    patient = ready_patient(readiness__transport_confirmed=False)
    client = signed_in(coordinator)
    page = client.get(WARD, {"facility": facility.code})
    response = read_form(page, f"#readiness-{patient.case_reference}-transport_confirmed").submit(
        client
    )
    assert response["Location"] == (
        f"/ward/?facility={facility.code}#card-{patient.case_reference}"
    )


def test_readiness_toggle_with_htmx_answers_the_card_alone(signed_in, nurse, ready_patient):
    patient = ready_patient(readiness__fit_to_travel=False)
    client = signed_in(nurse)
    form = read_form(client.get(WARD), f"#readiness-{patient.case_reference}-fit_to_travel")
    tag = form.tag
    assert tag["hx-post"] == tag["action"]
    assert tag.find_parent("article")["hx-target"] == "this"
    assert tag.find_parent("article")["hx-swap"] == "outerHTML"

    response = form.submit(client, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and "<header" not in html
    fragment = BeautifulSoup(html, "html.parser")
    (article,) = fragment.find_all("article")
    assert article["id"] == f"card-{patient.case_reference}"
    button = article.select_one('button[name="fit_to_travel"]')
    assert (button["aria-pressed"], button["value"]) == ("true", "0")
    assert patient.case_reference in article.select_one("[role=status]").get_text()
    assert ReadinessChange.objects.filter(patient=patient).count() == 1
    # The answer is no page load: nothing waits in the session for the next page.
    assert not soup(client.get(WARD)).select(".messages li")


def test_readiness_note_saves(signed_in, nurse, ready_patient):
    patient = ready_patient()
    client = signed_in(nurse)
    form = read_form(client.get(WARD), f"#readiness-{patient.case_reference}-note")
    before = last_event_id()

    response = form.fill(note="Family arrives at 7").submit(client)

    assert response.status_code == 302
    readiness = Readiness.objects.get(patient=patient)
    assert readiness.note == "Family arrives at 7"
    change = ReadinessChange.objects.get(patient=patient)
    assert change.new["note"] == "Family arrives at 7"
    (event,) = Event.objects.filter(pk__gt=before)
    assert event.action == "readiness_update"
    assert "Family" not in str(event.details)  # the note may hold clinical detail


def test_readiness_for_another_facility_is_404(signed_in, coordinator, other_nurse, ready_patient):
    patient = ready_patient()
    client = signed_in(coordinator)
    form = read_form(client.get(WARD), f"#readiness-{patient.case_reference}-fit_to_travel")

    client.force_login(other_nurse)
    response = form.submit(client)

    assert response.status_code == 404
    assert Readiness.objects.get(patient=patient).fit_to_travel is True
    assert not ReadinessChange.objects.exists()


def test_readiness_refused_to_auditors(signed_in, coordinator, auditor, ready_patient):
    patient = ready_patient()
    client = signed_in(coordinator)
    form = read_form(client.get(WARD), f"#readiness-{patient.case_reference}-fit_to_travel")
    client.force_login(auditor)
    assert form.submit(client).status_code == 403
    assert not ReadinessChange.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"fit_to_travel": "yes"}, "must be 0 (no) or 1 (yes)"),
        ({"fit_to_travel": "true"}, "must be 0 (no) or 1 (yes)"),
        ({"fit_to_travel": ""}, "must be 0 (no) or 1 (yes)"),
        ({"fit_to_travel": ["0", "1"]}, "more than once"),
        ({"diagnosis": "x"}, "not a readiness item"),
        ({"updated_by": "1"}, "not a readiness item"),
        ({}, "Nothing to save"),
        ({"note": "x" * 501}, "too long"),
    ],
)
def test_readiness_bad_input_is_400_and_changes_nothing(
    signed_in, nurse, ready_patient, data, message
):
    # A hand-made request on purpose: the page only ever sends 0/1 and a note within its length.
    nurse.preferred_language = "en"  # the messages checked are the English ones
    nurse.save()
    patient = ready_patient()
    before = last_event_id()
    response = signed_in(nurse).post(f"/patients/{patient.case_reference}/readiness/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ReadinessChange.objects.exists()
    assert not Event.objects.filter(pk__gt=before).exists()
    assert Readiness.objects.get(patient=patient).fit_to_travel is True


def test_readiness_get_is_not_allowed(signed_in, nurse, ready_patient):
    patient = ready_patient()
    assert signed_in(nurse).get(f"/patients/{patient.case_reference}/readiness/").status_code == 405


def test_readiness_unknown_case_is_404(signed_in, nurse):
    response = signed_in(nurse).post("/patients/EV-ZZZZZZ/readiness/", {"fit_to_travel": "1"})
    assert response.status_code == 404


def test_ward_renders_in_english_for_an_english_user(signed_in, coordinator, ready_patient):
    ready_patient()
    response = signed_in(coordinator).get(WARD)
    assert 'dir="ltr"' in response.content.decode()
    assert "My patients in the next batches" in response.content.decode()


def test_ward_shows_a_patient_once_with_the_open_batch(
    signed_in, nurse, coordinator, ready_patient, on_batch
):
    # An earlier cancelled batch leaves a closed line behind: only the open one counts.
    patient = ready_patient()
    cancelled = on_batch([patient])
    batch_services.batch_cancel(
        batch=cancelled,
        actor=coordinator,
        reason_code="weather",
        reason_text="Storm",
        source="internal",
    )
    current = on_batch([patient], days=1)

    response = signed_in(nurse).get(WARD)

    sections = soup(response).select("section")
    assert [s.h2.select("bdi.code")[-1].get_text() for s in sections] == [current.code]
    assert len(soup(response).select(f"#card-{patient.case_reference}")) == 1
