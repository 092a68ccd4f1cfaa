"""The patient page for each role, and the actions a coordinator takes from it (a companion, a
referral, a decision, a death or a withdrawal), each submitted as the page renders it."""

import datetime as dt

import pytest
from bs4 import BeautifulSoup
from django.urls import reverse
from django.utils import formats, timezone, translation

from batches import services as batch_services
from casetracker.audit.models import Event
from casetracker.errors import TransitionRefused
from patients import services
from patients.models import Companion, Patient, Referral
from tests import factories
from tests.html_forms import FormError, all_forms, read_form

pytestmark = pytest.mark.django_db

NATIONAL_ID = "400765432"


@pytest.fixture
def case(facility, coordinator, nurse):
    """A waiting patient with a companion, a pending referral and a readiness history."""
    patient = factories.PatientFactory(
        facility=facility,
        name_latin="Huda Barhoum",
        name_arabic="هدى برهوم",
        national_id=NATIONAL_ID,
        diagnosis="SENTINEL-DIAGNOSIS",
        needs_stretcher=True,
    )
    factories.CompanionFactory(
        patient=patient, name_latin="Samir Barhoum", relationship="husband", is_guardian=True
    )
    factories.ReferralFactory(patient=patient, number="MOH-2026-0042", status="pending")
    services.readiness_update(
        patient=patient, actor=nurse, fit_to_travel=False, note="SENTINEL-NOTE"
    )
    services.readiness_update(patient=patient, actor=nurse, fit_to_travel=True)
    return patient


def _url(patient, name="patients:detail", *args):
    return reverse(name, args=[patient.case_reference, *args])


def _html(response) -> str:
    return response.content.decode()


def _posting_forms(response) -> list[str]:
    """The action of every form that posts on the page, but the header's language switch."""
    return [
        form.action
        for form in all_forms(response)
        if form.method == "post" and "lang" not in (form.tag.get("class") or [])
    ]


def _views(patient):
    return Event.objects.filter(subject_ref=patient.case_reference, action="view")


# --- The page, role by role ------------------------------------------------------------------


def test_detail_coordinator_sees_the_whole_case_and_the_read_is_logged(client, coordinator, case):
    client.force_login(coordinator)
    response = client.get(_url(case))
    assert response.status_code == 200
    html = _html(response)
    for shown in (
        "Huda Barhoum",
        "هدى برهوم",
        NATIONAL_ID,
        "SENTINEL-DIAGNOSIS",
        "SENTINEL-NOTE",
        "needs stretcher",
        "Samir Barhoum",
        "husband",
        "MOH-2026-0042",
        "Place in the queue",
    ):
        assert shown in html, shown
    actions = _posting_forms(response)
    referral = case.referrals.get()
    assert f"/patients/{case.case_reference}/referrals/{referral.pk}/decision/" in actions
    assert _url(case, "patients:readiness") in actions
    for link in ("patients:companion-add", "patients:referral-add", "patients:status"):
        assert f'href="{_url(case, link)}"' in html
    view = _views(case).get()
    assert (view.actor, view.details["category"]) == (coordinator, "clinical")


def test_detail_nurse_of_the_facility_sees_readiness_toggles_and_no_case_actions(
    client, nurse, case
):
    client.force_login(nurse)
    response = client.get(_url(case))
    assert response.status_code == 200
    html = _html(response)
    assert "SENTINEL-DIAGNOSIS" in html and "SENTINEL-NOTE" in html
    # The national ID is shown by its last digits only.
    assert NATIONAL_ID not in html and "•••••5432" in html
    assert _posting_forms(response) == [_url(case, "patients:readiness")] * 2
    for link in ("patients:companion-add", "patients:referral-add", "patients:status"):
        assert _url(case, link) not in html
    assert _views(case).get().actor == nurse


def test_detail_nurse_of_another_facility_gets_404(client, other_nurse, case):
    client.force_login(other_nurse)
    assert client.get(_url(case)).status_code == 404
    assert not _views(case).exists()


def test_detail_auditor_sees_no_diagnosis_no_note_and_no_action(client, auditor, case):
    client.force_login(auditor)
    response = client.get(_url(case))
    assert response.status_code == 200
    html = _html(response)
    assert "Huda Barhoum" in html
    assert "SENTINEL-DIAGNOSIS" not in html
    assert "SENTINEL-NOTE" not in html
    assert "note changed" in html  # that it changed, not what it says
    assert NATIONAL_ID not in html
    assert _posting_forms(response) == []
    assert "/companions/new/" not in html and "/status/" not in html
    assert _views(case).get().details["category"] == "identity"


def test_detail_unknown_reference_is_404(client, coordinator):
    client.force_login(coordinator)
    assert client.get("/patients/EV-NOSUCH/").status_code == 404


def test_detail_readiness_history_in_words_and_local_time(client, coordinator, case):
    client.force_login(coordinator)
    html = _html(client.get(_url(case)))
    soup = BeautifulSoup(html, "html.parser")
    rows = soup.select("#readiness-history tbody tr")
    # Newest first: the second change set it back to yes.
    assert "Fit to travel: yes (was no)" in rows[0].get_text(" ", strip=True)
    assert "Fit to travel: no (was yes)" in rows[1].get_text(" ", strip=True)
    assert "note: SENTINEL-NOTE" in rows[1].get_text(" ", strip=True)
    shown = soup.get_text(" ")  # the words on the page, not its field names
    assert "fit_to_travel" not in shown and "True" not in shown
    newest = case.readiness_history.first()
    with translation.override("en"):
        local = formats.date_format(timezone.localtime(newest.changed_at), "SHORT_DATETIME_FORMAT")
    assert local in rows[0].get_text(" ", strip=True)
    assert "nurse" in rows[0].get_text(" ", strip=True)


def test_detail_case_history_shows_translated_events_newest_first(client, coordinator, case):
    services.patient_update(patient=case, actor=coordinator, priority="critical")
    client.force_login(coordinator)
    client.get(_url(case))  # a read: in the access log, not in the case history
    soup = BeautifulSoup(_html(client.get(_url(case))), "html.parser")
    rows = [row.get_text(" ", strip=True) for row in soup.select("#events tbody tr")]
    assert rows[0].startswith(
        formats.date_format(
            timezone.localtime(Event.objects.filter(action="update").get().created_at),
            "SHORT_DATETIME_FORMAT",
        )
    )
    assert "details changed" in rows[0] and "priority" in rows[0]
    assert "readiness updated" in rows[1] and "Fit to travel: yes" in rows[1]
    assert not any("record viewed" in row for row in rows)


def test_detail_journey_lists_every_batch_with_its_end(client, coordinator, facility, case):
    Referral.objects.filter(patient=case).update(status="approved")
    first = factories.BatchFactory(staging_facility=facility)
    batch_services.batch_add_patient(batch=first, patient=case, actor=coordinator)
    batch_services.batch_cancel(
        batch=first,
        actor=coordinator,
        reason_code="no_reason_given",
        reason_text="Called off at the gate",
        source="who",
    )
    second = factories.BatchFactory(staging_facility=facility)
    batch_services.batch_add_patient(batch=second, patient=case, actor=coordinator)
    client.force_login(coordinator)
    soup = BeautifulSoup(_html(client.get(_url(case))), "html.parser")
    rows = soup.select("#journey tbody tr")
    assert len(rows) == 2
    texts = {row.select_one("a").get_text(strip=True): row.get_text(" ") for row in rows}
    assert "batch cancelled" in texts[first.code] and "cancelled" in texts[first.code]
    assert "still on the manifest" in texts[second.code] and "draft" in texts[second.code]
    assert soup.select_one(f"#journey a[href='/batches/{first.code}/']") is not None
    # A scheduled patient has no place in the queue and no "before a batch" list.
    assert "Place in the queue" not in str(soup)


# --- Readiness toggles: the ward's endpoint, by its URL contract ----------------------------


def test_detail_readiness_toggle_posts_to_the_readiness_endpoint(client, coordinator, case):
    client.force_login(coordinator)
    page = client.get(_url(case))
    form = read_form(page, "#readiness-toggles")
    assert form.action.endswith(_url(case, "patients:readiness"))
    buttons = {name: (value, tag.get("aria-pressed")) for name, value, tag in form.buttons}
    assert buttons == {
        "fit_to_travel": ("0", "true"),
        "documents_ready": ("0", "true"),
        "companions_present": ("0", "true"),
        "transport_confirmed": ("0", "true"),
    }
    response = form.submit(client, button="documents_ready")
    assert response.status_code == 302
    assert response["Location"] == _url(case) + "#readiness"  # back where the nurse was
    case.readiness.refresh_from_db()
    assert case.readiness.documents_ready is False
    assert case.readiness_history.first().changed_by == coordinator


# --- Companions ------------------------------------------------------------------------------


def test_companion_add_through_the_form(client, coordinator, case):
    client.force_login(coordinator)
    form = read_form(client.get(_url(case, "patients:companion-add")), "#companion")
    assert form.controls["sex"][0].value == "" and form.controls["sex"][0].required
    form.fill(
        name_latin="Mona Barhoum",
        name_arabic="منى برهوم",
        national_id="800999111",
        date_of_birth="2001-03-09",
        sex="female",
        relationship="daughter",
    )
    response = form.submit(client)
    assert response.status_code == 302
    assert response.url == _url(case) + "#companions"
    companion = case.companions.get(name_latin="Mona Barhoum")
    assert (companion.relationship, companion.is_guardian) == ("daughter", False)
    event = Event.objects.filter(subject_ref=case.case_reference, action="companion_add").get()
    assert event.details == {"companion": companion.pk, "guardian": False}
    assert "800999111" not in str(list(Event.objects.values()))
    page = _html(client.get(response.url))
    assert f"Companion added to {case.case_reference}." in page and "Mona Barhoum" in page


def test_companion_add_bad_input_is_shown_beside_the_field_and_saves_nothing(
    client, coordinator, case
):
    before = (Companion.objects.count(), Event.objects.count())
    client.force_login(coordinator)
    form = read_form(client.get(_url(case, "patients:companion-add")), "#companion")
    form.fill(
        name_latin="Child",
        name_arabic="طفل",
        national_id="12-AB",
        date_of_birth=(dt.date.today() - dt.timedelta(days=3000)).isoformat(),
        sex="male",
        relationship="son",
        is_guardian=True,
    )
    response = form.submit(client)
    assert response.status_code == 400
    soup = BeautifulSoup(_html(response), "html.parser")

    def beside(name):
        return soup.find(attrs={"name": name}).find_parent(class_="field").get_text(" ")

    assert "digits only" in beside("national_id")
    assert "a guardian must be an adult" in beside("is_guardian")
    assert (Companion.objects.count(), Event.objects.count()) == before
    with pytest.raises(FormError, match="sex"):
        read_form(client.get(_url(case, "patients:companion-add")), "#companion").fill(
            name_latin="X"
        ).submit(client)


# --- Referrals -------------------------------------------------------------------------------


def test_referral_add_then_approve_makes_the_patient_eligible(
    client, coordinator, facility, other_facility
):
    patient = factories.PatientFactory(facility=facility)
    batch = factories.BatchFactory(staging_facility=facility)
    client.force_login(coordinator)
    form = read_form(client.get(_url(patient, "patients:referral-add")), "#referral")
    form.fill(
        number="MOH-2026-0077",
        specialty="cardiac surgery",
        referring_facility=str(other_facility.pk),
        destination_country="Jordan",
        destination_hospital="King Hussein",
        issued_on=dt.date.today().isoformat(),
        expires_on=(dt.date.today() + dt.timedelta(days=60)).isoformat(),
    )
    response = form.submit(client)
    assert response.status_code == 302
    referral = patient.referrals.get()
    assert (referral.status, referral.referring_facility) == ("pending", other_facility)
    created = Event.objects.get(subject_ref=patient.case_reference, action="create")
    assert (created.subject_type, created.to_state) == ("referral", "pending")
    with pytest.raises(TransitionRefused):
        batch_services.batch_add_patient(batch=batch, patient=patient, actor=coordinator)

    page = client.get(response.url)
    assert "an approved referral that has not expired" in _html(page)
    decision = read_form(page, f"#decide-{referral.pk}")
    assert decision.controls["status"][0].options == ["", "approved", "rejected"]
    assert decision.controls["status"][0].value == ""
    with pytest.raises(FormError, match="status"):
        decision.submit(client)
    response = decision.fill(status="approved").submit(client)
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.status == "approved"
    event = Event.objects.get(subject_ref=patient.case_reference, action="referral_decision")
    assert (event.from_state, event.to_state, event.details) == (
        "pending",
        "approved",
        {"referral_id": referral.pk},
    )
    page = _html(client.get(response.url))
    assert "Ready for a batch" in page
    assert "Referral MOH-2026-0077 of" in page
    # Approved: an expiry may now be recorded, nothing else.
    again = read_form(client.get(_url(patient)), f"#decide-{referral.pk}")
    assert again.controls["status"][0].options == ["", "expired"]
    lines = batch_services.batch_add_patient(batch=batch, patient=patient, actor=coordinator)
    assert lines[0].patient == patient


def test_referral_add_bad_dates_shown_beside_the_field(client, coordinator, case):
    client.force_login(coordinator)
    form = read_form(client.get(_url(case, "patients:referral-add")), "#referral")
    form.fill(
        number="MOH-1",
        specialty="oncology",
        destination_country="Egypt",
        issued_on="2026-02-01",
        expires_on="2026-01-01",
    )
    response = form.submit(client)
    assert response.status_code == 400
    soup = BeautifulSoup(_html(response), "html.parser")
    box = soup.find(attrs={"name": "expires_on"}).find_parent(class_="field")
    assert "before the issue date" in box.get_text()
    assert case.referrals.count() == 1


def test_referral_decision_of_another_patient_is_404(client, coordinator, case, facility):
    other = factories.ReferralFactory(patient=factories.PatientFactory(facility=facility))
    client.force_login(coordinator)
    response = client.post(_url(case, "patients:referral-decide", other.pk), {"status": "approved"})
    assert response.status_code == 404


def test_referral_decision_refused_is_shown_on_the_page(client, coordinator, case):
    referral = case.referrals.get()
    client.force_login(coordinator)
    form = read_form(client.get(_url(case)), f"#decide-{referral.pk}").fill(status="rejected")
    services.referral_decide(referral=referral, status="approved", actor=coordinator)
    response = form.submit(client)  # the page was stale: approved meanwhile
    assert response.status_code == 409
    assert "is approved and cannot become rejected" in _html(response)
    referral.refresh_from_db()
    assert referral.status == "approved"


# --- Death and withdrawal --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message"), [("deceased", "Death recorded"), ("withdrawn", "Withdrawal recorded")]
)
def test_status_records_a_death_or_a_withdrawal(client, coordinator, case, status, message):
    client.force_login(coordinator)
    form = read_form(client.get(_url(case, "patients:status")), "#status")
    assert form.controls["status"][0].value == "" and form.controls["status"][0].required
    with pytest.raises(FormError, match="status"):
        form.fill(reason_text="Told by the family").submit(client)
    response = form.fill(status=status, reason_text="Told by the family").submit(client)
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == status
    event = Event.objects.get(subject_ref=case.case_reference, action="status_change")
    assert (event.from_state, event.to_state, event.reason_text, event.actor) == (
        "waiting",
        status,
        "Told by the family",
        coordinator,
    )
    page = _html(client.get(response.url))
    assert f"{message} for {case.case_reference}." in page
    # A closed case offers no more actions.
    assert _url(case, "patients:status") not in page
    assert "/companions/new/" not in page


def test_status_of_a_scheduled_patient_is_refused_with_the_reason(
    client, coordinator, facility, case
):
    Referral.objects.filter(patient=case).update(status="approved")
    batch = factories.BatchFactory(staging_facility=facility)
    batch_services.batch_add_patient(batch=batch, patient=case, actor=coordinator)
    client.force_login(coordinator)
    form = read_form(client.get(_url(case, "patients:status")), "#status")
    before = Event.objects.count()
    response = form.fill(status="deceased", reason_text="Reported by the ward").submit(client)
    assert response.status_code == 409
    assert "is in an open batch: remove them from it first" in _html(response)
    case.refresh_from_db()
    assert case.status == "scheduled"
    assert Event.objects.count() == before


def test_case_actions_refused_to_hospital_staff_and_auditors(client, nurse, auditor, case):
    referral = case.referrals.get()
    for user in (nurse, auditor):
        client.force_login(user)
        for name in ("patients:companion-add", "patients:referral-add", "patients:status"):
            assert client.get(_url(case, name)).status_code == 403
            assert client.post(_url(case, name), {}).status_code == 403
        decide = _url(case, "patients:referral-decide", referral.pk)
        assert client.post(decide, {"status": "approved"}).status_code == 403
    referral.refresh_from_db()
    assert referral.status == "pending"
    assert Patient.objects.get().status == "waiting"


# --- Arabic ----------------------------------------------------------------------------------


def test_detail_in_arabic(client, coordinator, case, facility):
    coordinator.preferred_language = "ar"
    coordinator.save()
    client.force_login(coordinator)
    html = _html(client.get(_url(case)))
    assert '<html lang="ar" dir="rtl">' in html
    assert facility.name_ar in html
    assert "أنثى" in html  # the sex, translated
    assert '<bdi dir="auto" lang="ar" class="name-ar">هدى برهوم</bdi>' in html
    page = client.get(_url(case, "patients:status"))
    assert '<html lang="ar" dir="rtl">' in _html(page)
    form = read_form(page, "#status")
    response = form.fill(status="withdrawn", reason_text="انسحب").submit(client)
    assert response.status_code == 302


def test_detail_without_companions_asks_no_companions_present(client, coordinator, facility):
    patient = factories.PatientFactory(facility=facility, readiness__companions_present=False)
    client.force_login(coordinator)
    page = client.get(_url(patient))
    names = [name for name, _value, _tag in read_form(page, "#readiness-toggles").buttons]
    assert names == ["fit_to_travel", "documents_ready", "transport_confirmed"]
    assert "No companion registered." in _html(page)
