"""The batch builder page (`batches:builder`, /batches/new/), driven through its rendered forms:
choose the day, see the proposal, untick, reorder, add by reference, save a draft."""

import datetime as dt

import pytest
from bs4 import BeautifulSoup
from django.contrib.messages import get_messages
from django.urls import reverse

from batches.models import Batch, BatchMember
from batches.services import batch_add_patient
from casetracker.audit.models import Event
from patients.services import readiness_update
from tests import factories
from tests.html_forms import FormError, read_form
from tests.service_helpers import REGISTERED, born, events_since, mark

URL = reverse("batches:builder")


@pytest.fixture
def day(today):
    return today + dt.timedelta(days=1)


@pytest.fixture
def queue(ready_patient, day):
    """Four ready patients in queue order (the first with two companions, a guardian last
    registered), against a quota of 3 patients and 3 companions tomorrow."""
    factories.QuotaFactory(date=day, agreed_patients=3, agreed_companions=3)
    people = [
        ready_patient(registered_at=REGISTERED + dt.timedelta(minutes=m), name_latin=f"Person {m}")
        for m in range(4)
    ]
    factories.CompanionFactory(patient=people[0], relationship="brother", name_latin="Brother A")
    factories.CompanionFactory(
        patient=people[0], relationship="mother", is_guardian=True, name_latin="Mother A"
    )
    return people


def choose(client, facility, day, direction="exit"):
    page = client.get(URL)
    assert page.status_code == 200
    form = read_form(page, "#choose")
    form.fill(direction=direction, date=day.isoformat(), staging_facility=facility.code)
    return form.submit(client)


def text(response) -> str:
    return BeautifulSoup(response.content, "html.parser").get_text(" ", strip=True)


def rows(response) -> list[str]:
    """The references of the table's rows, in the order shown."""
    form = read_form(response, "#build")
    return [c.value for c in form.controls.get("row", [])]


def kept(response) -> list[str]:
    return read_form(response, "#build").value("keep")


# --- Step 1 -------------------------------------------------------------------------------


def test_builder_first_page_offers_tomorrow_and_its_places(client, coordinator, facility, day):
    factories.QuotaFactory(date=day, agreed_patients=7, agreed_companions=9)
    factories.FacilityFactory(code="zz-hospital", kind="hospital")
    client.force_login(coordinator)

    page = client.get(URL)

    form = read_form(page, "#choose")
    assert form.method == "get"
    assert form.value("date") == day.isoformat()
    assert form.value("direction") == "exit"
    # The staging facility is stated, never preselected; staging points come first.
    select = BeautifulSoup(page.content, "html.parser").select("#id_staging_facility option")
    assert [o["value"] for o in select] == ["", facility.code, "zz-hospital"]
    assert [o["value"] for o in select if o.has_attr("selected")] in ([], [""])
    assert "Places left on" in text(page) and "7 patients, 9 companions" in text(page)
    assert "#build" not in page.content.decode() and 'id="build"' not in page.content.decode()


def test_builder_requires_the_staging_facility(client, coordinator, day):
    client.force_login(coordinator)
    form = read_form(client.get(URL), "#choose")
    with pytest.raises(FormError, match="staging_facility"):
        form.fill(date=day.isoformat()).submit(client)


def test_builder_shows_a_bad_date_beside_the_field(client, coordinator, facility):
    client.force_login(coordinator)
    form = read_form(client.get(URL), "#choose")
    page = form.fill(date="2026-13-45", staging_facility=facility.code).submit(client)
    field = BeautifulSoup(page.content, "html.parser").select_one("#id_date").parent
    assert field.select_one(".errorlist")
    assert 'id="build"' not in page.content.decode()


# --- Step 2: the proposal -----------------------------------------------------------------


def test_builder_shows_the_proposal_and_the_skipped(client, coordinator, facility, day, queue):
    client.force_login(coordinator)
    since = mark()

    page = choose(client, facility, day)

    first, second, third, fourth = (p.case_reference for p in queue)
    # The first patient takes 2 companion places; 3 patient places in all.
    assert rows(page) == [first, second, third]
    assert kept(page) == [first, second, third]
    form = read_form(page, "#build")
    mother, brother = (c.pk for c in queue[0].companions.order_by("-is_guardian"))
    assert form.value("companions") == [str(mother), str(brother)]
    body = text(page)
    assert "Mother A" in body and "guardian" in body and "mother" in body
    assert "Not proposed, and why" in body
    assert f"{fourth} urgent" in body and "Quota full: no patient places left that day." in body
    assert "3 patients, 2 companions" in body  # on this batch
    # The page names people: one access-log event lists them.
    (event,) = [e for e in events_since(since) if e.action == "view"]
    assert event.details["results"] == [first, second, third, fourth]
    assert event.actor_id == coordinator.pk


def test_builder_full_flow_saves_a_draft_in_the_chosen_order(
    client, coordinator, facility, day, queue, ready_patient
):
    client.force_login(coordinator)
    first, second, third, fourth = (p.case_reference for p in queue)
    page = choose(client, facility, day)

    # Untick the second patient and the brother; put the third first.
    form = read_form(page, "#build")
    mother, _brother = (c.pk for c in queue[0].companions.order_by("-is_guardian"))
    form.fill(keep=[first, third], companions=[str(mother)])
    form.set(f"order-{third}", 1).set(f"order-{first}", 2).set(f"order-{second}", 3)
    page = form.submit(client, button="update")
    assert rows(page) == [third, first, second]
    assert kept(page) == [third, first]
    assert "2 patients, 1 companion" in text(page)

    # Add the fourth, who was skipped for lack of places, by typing the reference.
    page = read_form(page, "#build").fill(add=fourth.lower()).submit(client, button="add")
    assert rows(page) == [third, first, second, fourth]
    assert kept(page) == [third, first, fourth]

    since = mark()
    response = read_form(page, "#build").submit(client, button="Save draft batch")

    batch = Batch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("batches:detail", args=[batch.code])
    assert (batch.status, batch.planned_date, batch.staging_facility) == ("draft", day, facility)
    lines = BatchMember.objects.filter(batch=batch).order_by("pk")
    assert [
        (line.patient and line.patient.case_reference, line.companion_id) for line in lines
    ] == [
        (third, None),
        (first, None),
        (None, mother),
        (fourth, None),
    ]
    actions = [(e.action, e.batch_ref) for e in events_since(since) if e.action != "view"]
    assert actions == [("create", batch.code)] + [("add_member", batch.code)] * 3
    (message,) = get_messages(response.wsgi_request)
    assert str(message) == (
        f"Draft batch {batch.code} saved with 3 patients, 1 companion. "
        "Prepare it once everyone is ready."
    )
    queue[1].refresh_from_db()
    assert queue[1].status == "waiting"


def test_builder_refuses_to_add_an_ineligible_patient(
    client, coordinator, nurse, facility, day, queue
):
    client.force_login(coordinator)
    unfit = queue[3]
    readiness_update(patient=unfit, actor=nurse, fit_to_travel=False)
    page = choose(client, facility, day)

    page = read_form(page, "#build").fill(add=unfit.case_reference).submit(client, button="add")

    errors = BeautifulSoup(page.content, "html.parser").select_one("#builder-add-errors")
    assert f"{unfit.case_reference} cannot travel that day:" in errors.get_text()
    assert "Not ready yet: fit to travel." in errors.get_text()
    assert unfit.case_reference not in rows(page)


def test_builder_refuses_to_add_an_unknown_case(client, coordinator, facility, day, queue):
    client.force_login(coordinator)
    page = choose(client, facility, day)
    page = read_form(page, "#build").fill(add="EV-ZZZZZZ").submit(client, button="add")
    assert "No case with the reference EV-ZZZZZZ." in text(page)


def test_builder_shows_the_refusal_of_a_case_booked_meanwhile(
    client, coordinator, facility, day, queue
):
    client.force_login(coordinator)
    page = choose(client, facility, day)
    # Another coordinator puts the second patient on another batch before this one saves.
    other = factories.BatchFactory(staging_facility=facility, planned_date=day)
    batch_add_patient(batch=other, patient=queue[1], actor=coordinator)
    since = mark()

    page = read_form(page, "#build").submit(client, button="save")

    assert page.status_code == 200
    problems = BeautifulSoup(page.content, "html.parser").select_one(".alert .problems")
    ref = queue[1].case_reference
    assert f"patient {ref} is already in open batch {other.code}" in problems.get_text()
    assert Batch.objects.count() == 1
    assert not [e for e in events_since(since) if e.action != "view"]
    # The row says why too, the code on one line.
    assert f'Already on batch <bdi class="code">{other.code}</bdi>.' in page.content.decode()


def test_builder_shows_too_many_companions_and_saves_nothing(
    client, coordinator, facility, day, queue
):
    client.force_login(coordinator)
    third = factories.CompanionFactory(patient=queue[0], name_latin="Cousin A")
    page = choose(client, facility, day)
    form = read_form(page, "#build")
    form.fill(companions=[str(c.pk) for c in queue[0].companions.all()])
    assert str(third.pk) in [c.checkbox_value for c in form.controls["companions"]]

    page = form.submit(client, button="save")

    ref = queue[0].case_reference
    assert f"at most 2 companions may travel with a patient; {ref} would have 3" in text(page)
    assert "3 companions chosen; at most 2 may travel." in text(page)
    assert not Batch.objects.exists()


def test_builder_warns_when_the_guardian_of_a_child_is_unticked(
    client, coordinator, facility, day, ready_patient
):
    factories.QuotaFactory(date=day)
    child = ready_patient(date_of_birth=born(7, day))
    guardian = factories.CompanionFactory(patient=child, is_guardian=True)
    client.force_login(coordinator)
    page = choose(client, facility, day)

    page = read_form(page, "#build").fill(companions=[]).submit(client, button="update")

    assert "A child, and no adult guardian travels with them." in text(page)
    assert str(guardian.pk) not in read_form(page, "#build").value("companions")


def test_builder_without_quota_says_so_and_still_saves_a_draft(
    client, coordinator, facility, day, ready_patient
):
    patient = ready_patient()
    client.force_login(coordinator)
    page = choose(client, facility, day)
    assert "No quota is agreed" in text(page)
    assert rows(page) == []

    page = read_form(page, "#build").fill(add=patient.case_reference).submit(client, button="add")
    assert rows(page) == [patient.case_reference]
    response = read_form(page, "#build").submit(client, button="save")

    assert response.status_code == 302
    assert Batch.objects.get().members.get().patient == patient


def test_builder_refuses_to_save_an_empty_draft(client, coordinator, facility, day, queue):
    client.force_login(coordinator)
    page = choose(client, facility, day)
    page = read_form(page, "#build").fill(keep=[]).submit(client, button="save")
    assert "Tick at least one person to save a draft." in text(page)
    assert not Batch.objects.exists()


# --- Return batches -----------------------------------------------------------------------


def test_builder_return_batch(client, coordinator, facility, day):
    factories.QuotaFactory(date=day, direction="return", agreed_patients=2)
    second = factories.ReturneeFactory(registered_at=REGISTERED + dt.timedelta(hours=1))
    first = factories.ReturneeFactory(registered_at=REGISTERED)
    third = factories.ReturneeFactory(registered_at=REGISTERED + dt.timedelta(hours=2))
    client.force_login(coordinator)

    page = choose(client, facility, day, direction="return")
    assert rows(page) == [first.reference, second.reference]
    assert "Quota full: no returnee places left that day." in text(page)
    form = read_form(page, "#build")
    form.set(f"order-{second.reference}", 1).set(f"order-{first.reference}", 2)
    page = form.fill(add=third.reference).submit(client, button="add")
    assert rows(page) == [second.reference, first.reference, third.reference]

    response = read_form(page, "#build").submit(client, button="save")

    batch = Batch.objects.get()
    assert response.status_code == 302 and batch.direction == "return"
    assert [m.returnee for m in batch.members.order_by("pk")] == [second, first, third]


# --- Roles and language -------------------------------------------------------------------


@pytest.mark.parametrize("who", ["nurse", "auditor"])
def test_builder_refuses_hospital_staff_and_auditors(client, request, who, facility, day):
    client.force_login(request.getfixturevalue(who))
    assert client.get(URL).status_code == 403
    params = {"direction": "exit", "date": day.isoformat(), "staging_facility": facility.code}
    assert client.post(URL, {**params, "crossing": "rafah", "action": "save"}).status_code == 403
    assert not Batch.objects.exists()


def test_builder_sends_anonymous_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_builder_serves_admins(client, admin_user, facility, day, queue):
    client.force_login(admin_user)
    assert rows(choose(client, facility, day))


def test_builder_renders_in_arabic(client, coordinator, facility, day, queue):
    coordinator.preferred_language = "ar"
    coordinator.save()
    client.force_login(coordinator)

    page = choose(client, facility, day)

    soup = BeautifulSoup(page.content, "html.parser")
    assert soup.html["lang"] == "ar" and soup.html["dir"] == "rtl"
    option = soup.select_one(f'#id_staging_facility option[value="{facility.code}"]')
    assert option.get_text() == facility.name_ar
    assert soup.select_one('bdi[lang="ar"]').get_text() == queue[0].name_arabic
    assert not Event.objects.filter(action="create").exists()
