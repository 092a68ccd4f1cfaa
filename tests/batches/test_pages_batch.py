"""The batch page: manifest grouped by patient, clearance, each step as the page offers it, the
cancel and crossing forms that preselect nothing. Every form is submitted as rendered."""

import contextlib

import pytest
from django.urls import reverse

from batches.models import Batch, BatchMember
from batches.services import batch_add_patient, batch_create
from casetracker.audit.models import ACCESS_ACTIONS, Event
from patients.models import Patient, Readiness
from tests import factories
from tests.html_forms import FormError, read_form
from tests.service_helpers import advance, events_since, mark, world


def _changes() -> dict:
    """Everything a service could change; the page's reads (access events) left out."""
    state = world()
    state["events"] = list(
        Event.objects.exclude(action__in=ACCESS_ACTIONS).order_by("pk").values_list("pk", flat=True)
    )
    return state


@contextlib.contextmanager
def refused_page():
    """Nothing changes while the block runs (a refused page submission), but the access log
    of the page that answers it."""
    before = _changes()
    yield
    assert _changes() == before


@pytest.fixture
def batch(facility, coordinator, quota, ready_patient, today):
    """A draft with two patients: one with a guardian and a brother, one alone."""
    draft = batch_create(
        actor=coordinator, direction="exit", planned_date=today, staging_facility=facility
    )
    first = ready_patient(name_latin="Mariam Barhoum", name_arabic="مريم برهوم")
    guardian = factories.CompanionFactory(
        patient=first, is_guardian=True, relationship="mother", name_arabic="فاطمة برهوم"
    )
    brother = factories.CompanionFactory(patient=first, relationship="brother")
    second = ready_patient(name_latin="Omar Qishta", priority="critical")
    batch_add_patient(batch=draft, patient=first, actor=coordinator, companions=[guardian, brother])
    batch_add_patient(batch=draft, patient=second, actor=coordinator)
    return draft


def _page(client, user, batch):
    client.force_login(user)
    response = client.get(reverse("batches:detail", args=[batch.code]))
    assert response.status_code == 200
    return response


def _line(batch, **person) -> BatchMember:
    return batch.members.get(is_open=True, **person)


def test_batch_page_groups_companions_under_their_patient(client, coordinator, batch):
    html = _page(client, coordinator, batch).content.decode()
    mariam, mother, omar = (
        html.index("Mariam Barhoum"),
        html.index("فاطمة برهوم"),
        html.index("Omar Qishta"),
    )
    assert mariam < mother < omar
    assert "mother" in html and "guardian" in html
    assert "2 patients" in html and "2 companions" in html


def test_batch_page_logs_the_names_it_shows(client, coordinator, batch):
    since = mark()
    _page(client, coordinator, batch)
    [event] = [e for e in events_since(since) if e.action == "view"]
    assert sorted(event.details["results"]) == sorted(
        Patient.objects.filter(lines__batch=batch).values_list("case_reference", flat=True)
    )
    assert "Mariam" not in str(event.details)


def test_batch_page_prepare_button_moves_the_batch(client, coordinator, batch):
    page = _page(client, coordinator, batch)
    since = mark()
    response = read_form(
        page, f"form[action='{reverse('batches:transition', args=[batch.code, 'prepare'])}']"
    ).submit(client)
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.status == "prepared"
    assert [e.action for e in events_since(since) if e.subject_type == "batch"] == ["prepare"]
    follow = client.get(response["Location"])
    assert "is prepared" in follow.content.decode()


def test_batch_page_refused_step_names_every_problem(client, coordinator, batch):
    Readiness.objects.filter(patient__name_latin="Omar Qishta").update(fit_to_travel=False)
    page = _page(client, coordinator, batch)
    with refused_page():
        response = read_form(
            page, f"form[action='{reverse('batches:transition', args=[batch.code, 'prepare'])}']"
        ).submit(client)
    assert response.status_code == 409
    assert "is not fit to travel" in response.content.decode()
    batch.refresh_from_db()
    assert batch.status == "draft"


def test_cancel_form_preselects_nothing(client, coordinator, batch):
    client.force_login(coordinator)
    url = reverse("batches:transition", args=[batch.code, "cancel"])
    form = read_form(client.get(url), "#step")
    assert form.value("reason_code") == "" and form.value("source") == ""
    form.fill(reason_text="Road closed by shelling")
    with pytest.raises(FormError, match="reason_code"):
        form.submit(client)


def test_cancel_form_records_the_stated_reason_and_source(client, coordinator, batch):
    client.force_login(coordinator)
    url = reverse("batches:transition", args=[batch.code, "cancel"])
    form = read_form(client.get(url), "#step")
    # Nothing is preselected: neither the reason, nor who decided, nor who relayed it.
    assert [form.value(name) for name in ("reason_code", "source", "relayed_by")] == ["", "", ""]
    form.fill(
        reason_code="no_reason_given",
        source="border_authority",
        relayed_by="who",
        reason_text="WHO relayed at 07:40 that the batch will not cross; no reason given.",
    )
    since = mark()
    response = form.submit(client)
    assert response.status_code == 302
    batch.refresh_from_db()
    assert (batch.status, batch.cancel_source, batch.cancel_relayed_by) == (
        "cancelled",
        "border_authority",
        "who",
    )
    [event] = [e for e in events_since(since) if e.subject_type == "batch"]
    assert (event.action, event.reason_code, event.source, event.details["relayed_by"]) == (
        "cancel",
        "no_reason_given",
        "border_authority",
        "who",
    )
    assert set(Patient.objects.filter(lines__batch=batch).values_list("status", flat=True)) == {
        "waiting"
    }


def test_cancel_form_too_long_text_shown_beside_the_field(client, coordinator, batch):
    client.force_login(coordinator)
    url = reverse("batches:transition", args=[batch.code, "cancel"])
    form = read_form(client.get(url), "#step")
    form.fill(reason_code="security", source="who", relayed_by="directly", reason_text="x" * 2001)
    with refused_page():
        response = form.submit(client)
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()


def _submitted(batch, coordinator):
    return advance(batch, "submitted", coordinator)


def test_clearance_approve_all_pending_then_clear(client, coordinator, batch):
    _submitted(batch, coordinator)
    page = _page(client, coordinator, batch)
    since = mark()
    read_form(page, "#approve-all").submit(client)
    assert set(batch.members.values_list("clearance", flat=True)) == {"approved"}
    assert [e.action for e in events_since(since)].count("clearance") == 4
    page = _page(client, coordinator, batch)
    read_form(
        page, f"form[action='{reverse('batches:transition', args=[batch.code, 'clear'])}']"
    ).submit(client)
    batch.refresh_from_db()
    assert batch.status == "cleared"


def test_clearance_reject_one_companion_with_a_note(client, coordinator, batch):
    _submitted(batch, coordinator)
    brother = _line(batch, companion__relationship="brother")
    page = _page(client, coordinator, batch)
    since = mark()
    form = read_form(page, f"#clearance-{brother.pk}").fill(note="Not on the cleared list")
    response = form.submit(client, button="rejected")
    assert response.status_code == 302
    brother.refresh_from_db()
    assert (brother.clearance, brother.clearance_note) == ("rejected", "Not on the cleared list")
    [event] = events_since(since)[-1:]
    assert (event.action, event.to_state) == ("clearance", "rejected")
    assert "Not on the cleared list" not in str(event.details)


def test_clearance_with_htmx_answers_the_manifest_only(client, coordinator, batch):
    _submitted(batch, coordinator)
    page = _page(client, coordinator, batch)
    response = read_form(page, "#approve-all").submit(client, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and 'id="manifest-title"' in html
    assert "4 people approved" in html


def test_clearance_refused_when_batch_is_not_submitted(client, coordinator, batch):
    client.force_login(coordinator)
    line = _line(batch, patient__name_latin="Omar Qishta")
    with refused_page():
        response = client.post(
            reverse("batches:clearance", args=[batch.code]),
            {"line": line.pk, "decision": "approved", "note": ""},
        )
    assert response.status_code == 302
    follow = client.get(response["Location"])
    assert "clearance is recorded only once it is submitted" in follow.content.decode()


def test_cross_form_requires_an_explicit_outcome_for_everyone(client, coordinator, batch):
    advance(batch, "in_transit", coordinator)
    client.force_login(coordinator)
    url = reverse("batches:transition", args=[batch.code, "cross"])
    form = read_form(client.get(url), "#cross")
    lines = list(batch.members.filter(is_open=True))
    assert all(form.value(f"line_{line.pk}") == [] for line in lines)
    for line in lines[:-1]:
        form.fill(**{f"line_{line.pk}": "crossed"})
    with pytest.raises(FormError):
        form.submit(client)
    form.fill(**{f"line_{lines[-1].pk}": "turned_back"})
    since = mark()
    assert form.submit(client).status_code == 302
    batch.refresh_from_db()
    assert batch.status == "crossed"
    [event] = [e for e in events_since(since) if e.subject_type == "batch"]
    assert event.details["outcomes"]["turned_back"] == 1


def test_cross_everyone_crossed_needs_the_confirmation(client, coordinator, batch):
    advance(batch, "in_transit", coordinator)
    client.force_login(coordinator)
    url = reverse("batches:transition", args=[batch.code, "cross"])
    form = read_form(client.get(url), "#all-crossed")
    with pytest.raises(FormError, match="confirm"):
        form.submit(client, button="all_crossed")
    form.fill(confirm=True)
    assert form.submit(client, button="all_crossed").status_code == 302
    assert set(batch.members.values_list("outcome", flat=True)) == {"crossed"}


def test_reschedule_makes_a_new_draft_with_the_same_people(client, coordinator, batch, today):
    advance(batch, "cancelled", coordinator)
    page = _page(client, coordinator, batch)
    assert reverse("batches:transition", args=[batch.code, "reschedule"]) in page.content.decode()
    client.force_login(coordinator)
    form = read_form(
        client.get(reverse("batches:transition", args=[batch.code, "reschedule"])), "#step"
    )
    form.fill(planned_date=today.isoformat())
    response = form.submit(client)
    new = Batch.objects.get(rescheduled_from=batch)
    assert response["Location"] == reverse("batches:detail", args=[new.code])
    assert new.members.count() == 4  # both patients and the first one's two companions


# --- Vehicles -------------------------------------------------------------------------------


def _vehicles_page(client, coordinator, batch):
    client.force_login(coordinator)
    return client.get(reverse("batches:vehicles", args=[batch.code]))


def test_vehicles_add_with_a_stated_kind(client, coordinator, batch):
    form = read_form(_vehicles_page(client, coordinator, batch), "#add-vehicle")
    assert form.value("kind") == ""
    form.fill(seats="4", stretchers="1", label="PRCS-12")
    with pytest.raises(FormError, match="kind"):
        form.submit(client, button="add")
    since = mark()
    assert form.fill(kind="ambulance").submit(client, button="add").status_code == 302
    [vehicle] = batch.vehicles.all()
    assert (vehicle.number, vehicle.kind, vehicle.seats, vehicle.label) == (
        1,
        "ambulance",
        4,
        "PRCS-12",
    )
    assert [e.action for e in events_since(since)] == ["vehicle_add"]


def test_vehicles_seat_everyone_and_the_capacity_is_checked(client, coordinator, batch):
    from batches.services import vehicle_add

    vehicle_add(batch=batch, actor=coordinator, kind="ambulance", seats=2, stretchers=1)
    lines = list(batch.members.filter(is_open=True))
    form = read_form(_vehicles_page(client, coordinator, batch), "#seating")
    for line in lines:
        form.fill(**{f"line_{line.pk}": "1"})
    with refused_page():
        response = form.submit(client, button="seat")
    assert response.status_code == 409
    assert "Ambulance 1 has 2 seats" in response.content.decode()
    vehicle_add(batch=batch, actor=coordinator, kind="bus", seats=10)
    form = read_form(_vehicles_page(client, coordinator, batch), "#seating")
    for line in lines:
        form.fill(**{f"line_{line.pk}": "2"})
    since = mark()
    assert form.submit(client, button="seat").status_code == 302
    assert set(batch.members.values_list("vehicle__number", flat=True)) == {2}
    assert [e.action for e in events_since(since)] == ["vehicle_assign"]


def test_vehicles_page_refused_to_hospital_staff(client, nurse, batch):
    client.force_login(nurse)
    assert client.get(reverse("batches:vehicles", args=[batch.code])).status_code == 403


def test_batch_page_print_sheet_masks_national_ids(client, coordinator, batch):
    patient = batch.members.filter(patient__isnull=False).first().patient
    html = _page(client, coordinator, batch).content.decode()
    assert 'class="print-only"' in html
    assert patient.national_id not in html
    assert patient.national_id[-4:] in html


def test_batch_page_for_the_staging_nurse_is_read_only(client, nurse, batch):
    html = _page(client, nurse, batch).content.decode()
    assert "Mariam Barhoum" in html
    assert reverse("batches:transition", args=[batch.code, "prepare"]) not in html
    assert 'name="remove"' not in html


def test_batch_page_of_another_facility_is_not_found(client, other_nurse, batch):
    client.force_login(other_nurse)
    assert client.get(reverse("batches:detail", args=[batch.code])).status_code == 404


# --- Every page that names people is in the access log --------------------------------------


def _listed_cases(since) -> set[str]:
    return {
        reference
        for event in events_since(since)
        if event.action == "view"
        for reference in event.details.get("results", [])
    }


def _cases_of(batch) -> set[str]:
    return set(Patient.objects.filter(lines__batch=batch).values_list("case_reference", flat=True))


def test_vehicles_page_logs_the_names_it_shows(client, coordinator, batch):
    since = mark()
    assert _vehicles_page(client, coordinator, batch).status_code == 200
    assert _listed_cases(since) == _cases_of(batch)


def test_cross_step_logs_the_names_it_shows(client, coordinator, batch):
    advance(batch, "in_transit", coordinator)
    client.force_login(coordinator)
    since = mark()
    client.get(reverse("batches:transition", args=[batch.code, "cross"]))
    assert _listed_cases(since) == _cases_of(batch)


def test_clearance_fragment_logs_the_names_it_shows(client, coordinator, batch):
    _submitted(batch, coordinator)
    page = _page(client, coordinator, batch)
    since = mark()
    read_form(page, "#approve-all").submit(client, HTTP_HX_REQUEST="true")
    assert _listed_cases(since) == _cases_of(batch)


def test_step_not_possible_now_names_nobody(client, coordinator, batch):
    client.force_login(coordinator)
    since = mark()
    response = client.get(reverse("batches:transition", args=[batch.code, "cross"]))
    assert response.status_code == 409
    assert "Mariam Barhoum" not in response.content.decode()
    assert _listed_cases(since) == set()


def test_batch_and_vehicles_pages_queries_do_not_grow_with_people(
    client, coordinator, batch, ready_patient
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from batches.services import vehicle_add

    vehicle_add(batch=batch, actor=coordinator, kind="bus", seats=20)
    client.force_login(coordinator)
    urls = [
        reverse("batches:detail", args=[batch.code]),
        reverse("batches:vehicles", args=[batch.code]),
    ]

    def counts():
        result = []
        for url in urls:
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200
            result.append(len(queries))
        return result

    counts()  # the first request after signing in saves the session (once a minute)
    before = counts()
    for _ in range(4):
        patient = ready_patient()
        companion = factories.CompanionFactory(patient=patient)
        batch_add_patient(batch=batch, patient=patient, actor=coordinator, companions=[companion])
    assert counts() == before
