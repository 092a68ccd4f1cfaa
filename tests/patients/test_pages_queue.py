"""The queue pages: waiting patients in the order the next batch takes them, and returnees."""

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from django.utils.formats import date_format

from batches import services as batch_services
from casetracker.audit.models import Event
from tests import factories
from tests.html_forms import FormError, read_form

pytestmark = pytest.mark.django_db

QUEUE = "/queue/"
RETURNEES = "/returnees/"
NATIONAL_ID = "400765432"
NAME = "Huda Barhoum"


def at(days_ago: int, hour: int = 8) -> dt.datetime:
    day = timezone.localdate() - dt.timedelta(days=days_ago)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def short(day: dt.date) -> str:
    """A date as the English pages show it."""
    with translation.override("en"):
        return date_format(day, "SHORT_DATE_FORMAT")


def rows(response) -> list[dict]:
    """The queue table as the user reads it: one dict per row, by column header."""
    soup = BeautifulSoup(response.content.decode(), "html.parser")
    table = soup.select_one("table.queue")
    if table is None:
        return []
    headers = [th.get_text(" ", strip=True) for th in table.select("thead th")]
    out = []
    for tr in table.select("tbody tr"):
        cells = [td.get_text(" ", strip=True) for td in tr.find_all("td")]
        out.append(dict(zip(headers, cells, strict=True)))
    return out


def refs(response) -> list[str]:
    # The first reference of each row, whatever the language of the column headings.
    return [re.search(r"(EV|RT)-\w{6}", " ".join(r.values()))[0] for r in rows(response)]


def new_events(before: int) -> list[Event]:
    return list(Event.objects.filter(pk__gt=before).order_by("pk"))


def last_event_id() -> int:
    return Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


@pytest.fixture
def signed_in(client):
    def make(user):
        client.force_login(user)
        return client

    return make


# --- Order ----------------------------------------------------------------------------------


def test_queue_order_is_priority_then_registration(signed_in, coordinator, ready_patient):
    routine_old = ready_patient(priority="routine", registered_at=at(30))
    urgent_new = ready_patient(priority="urgent", registered_at=at(2))
    critical_new = ready_patient(priority="critical", registered_at=at(1))
    urgent_old = ready_patient(priority="urgent", registered_at=at(10))
    critical_old = ready_patient(priority="critical", registered_at=at(5))

    response = signed_in(coordinator).get(QUEUE)

    assert response.status_code == 200
    expected = [critical_old, critical_new, urgent_old, urgent_new, routine_old]
    assert refs(response) == [p.case_reference for p in expected]
    assert [r["Place"] for r in rows(response)] == ["1", "2", "3", "4", "5"]


def test_queue_patient_back_from_a_cancelled_batch_keeps_their_place(
    signed_in, coordinator, facility, ready_patient, today
):
    first = ready_patient(priority="urgent", registered_at=at(20))
    later = ready_patient(priority="urgent", registered_at=at(3))
    batch = batch_services.batch_create(
        actor=coordinator, direction="exit", planned_date=today, staging_facility=facility
    )
    batch_services.batch_add_patient(batch=batch, patient=first, actor=coordinator)
    client = signed_in(coordinator)
    assert refs(client.get(QUEUE)) == [later.case_reference]  # scheduled: out of the queue

    batch_services.batch_cancel(
        batch=batch,
        actor=coordinator,
        reason_code="no_reason_given",
        reason_text="Cancelled at the gate",
        source="who",
    )

    response = client.get(QUEUE)
    assert refs(response) == [first.case_reference, later.case_reference]
    assert rows(response)[0]["Place"] == "1"


# --- Columns --------------------------------------------------------------------------------


def test_queue_row_shows_names_age_priority_category_facility_and_waiting_time(
    signed_in, coordinator, facility, today
):
    patient = factories.PatientFactory(
        facility=facility,
        name_latin=NAME,
        name_arabic="هدى برهوم",
        date_of_birth=dt.date(today.year - 40, 1, 1),
        sex="female",
        priority="critical",
        clinical_category="renal",
        registered_at=at(12),
        needs_stretcher=True,
        needs_oxygen=True,
        diagnosis="SENTINEL-DIAGNOSIS",
        national_id=NATIONAL_ID,
    )
    factories.ReferralFactory(patient=patient)

    response = signed_in(coordinator).get(QUEUE)

    (row,) = rows(response)
    assert patient.case_reference in row["Case"]
    assert row["Name"] == f"{NAME} هدى برهوم"
    assert row["Age, sex"] == f"{40 - (today < dt.date(today.year, 1, 1))} female"
    assert row["Priority, category"] == "critical renal"
    assert row["Facility"] == facility.name_en
    assert row["Transport needs"] == "needs stretcher, needs oxygen"
    assert row["Waiting"] == "12 days"
    body = response.content.decode()
    assert 'lang="ar"' in body
    assert f'href="/patients/{patient.case_reference}/"' in body
    # Never the diagnosis, never the national ID.
    assert "SENTINEL-DIAGNOSIS" not in body
    assert NATIONAL_ID not in body


def test_queue_readiness_names_the_missing_items(signed_in, coordinator, ready_patient):
    ready = ready_patient(priority="critical")
    unfit = ready_patient(
        priority="urgent",
        readiness__fit_to_travel=False,
        readiness__transport_confirmed=False,
    )
    # Companions present counts only when companions travel.
    alone = ready_patient(priority="routine", readiness__companions_present=False)
    with_family = ready_patient(priority="routine", readiness__companions_present=False)
    factories.CompanionFactory(patient=with_family, is_guardian=True)

    by_ref = {
        re.search(r"EV-\w{6}", r["Case"])[0]: r for r in rows(signed_in(coordinator).get(QUEUE))
    }

    assert by_ref[ready.case_reference]["Readiness"] == "ready"
    assert by_ref[unfit.case_reference]["Readiness"] == (
        "missing: fit to travel, transport needs confirmed"
    )
    assert by_ref[alone.case_reference]["Readiness"] == "ready"
    assert by_ref[with_family.case_reference]["Readiness"] == "missing: companions present"
    assert by_ref[with_family.case_reference]["Companions"] == "1 guardian"
    assert by_ref[alone.case_reference]["Companions"] == "0"


def test_queue_referral_column_shows_validity_and_expiry(signed_in, coordinator, facility, today):
    def patient(priority, registered, *referrals):
        p = factories.PatientFactory(
            facility=facility, priority=priority, registered_at=at(registered)
        )
        for fields in referrals:
            factories.ReferralFactory(patient=p, **fields)
        return p

    expires = today + dt.timedelta(days=9)
    valid = patient("critical", 9, {"expires_on": expires})
    # A lapsed approval next to a valid one: the valid one wins.
    both = patient(
        "critical",
        8,
        {"expires_on": today - dt.timedelta(days=1)},
        {"expires_on": None},
    )
    pending = patient("urgent", 7, {"status": "pending"})
    expired = patient("urgent", 6, {"expires_on": today - dt.timedelta(days=2)})
    rejected = patient("routine", 5, {"status": "rejected"})
    none = patient("routine", 4)

    by_ref = {
        re.search(r"EV-\w{6}", r["Case"])[0]: r["Referral"]
        for r in rows(signed_in(coordinator).get(QUEUE))
    }

    assert by_ref[valid.case_reference] == f"valid until {short(expires)}"
    assert by_ref[both.case_reference] == "valid no expiry date"
    assert by_ref[pending.case_reference] == "pending"
    assert by_ref[expired.case_reference] == f"expired {short(today - dt.timedelta(days=2))}"
    assert by_ref[rejected.case_reference] == "rejected"
    assert by_ref[none.case_reference] == "no referral"


def test_queue_child_flag_and_a_child_without_guardian(
    signed_in, coordinator, ready_patient, today
):
    child = ready_patient(date_of_birth=dt.date(today.year - 10, 1, 1))
    adult = ready_patient(date_of_birth=dt.date(1980, 1, 1))
    tomorrow = today + dt.timedelta(days=1)
    turns_18_tomorrow = ready_patient(date_of_birth=tomorrow.replace(year=tomorrow.year - 18))
    factories.CompanionFactory(patient=child, is_guardian=False)

    by_ref = {
        re.search(r"EV-\w{6}", r["Case"])[0]: r for r in rows(signed_in(coordinator).get(QUEUE))
    }

    assert by_ref[child.case_reference]["Age, sex"].startswith("10 child")
    assert "child" not in by_ref[adult.case_reference]["Age, sex"]
    assert "child" in by_ref[turns_18_tomorrow.case_reference]["Age, sex"]
    assert by_ref[child.case_reference]["Companions"] == "1 no guardian"


def test_queue_facility_name_is_in_arabic_on_arabic_pages(signed_in, coordinator, ready_patient):
    coordinator.preferred_language = "ar"
    coordinator.save()
    patient = ready_patient()

    response = signed_in(coordinator).get(QUEUE)

    body = response.content.decode()
    assert 'dir="rtl"' in body
    (row,) = rows(response)
    assert list(row.values())[5] == patient.facility.name_ar


# --- Filters --------------------------------------------------------------------------------


@pytest.fixture
def mixed_queue(facility, other_facility, today):
    """One case of each kind, named by what sets it apart."""

    def make(**fields):
        fields.setdefault("facility", facility)
        fields.setdefault("priority", "urgent")
        patient = factories.PatientFactory(**fields)
        return patient

    cases = {
        "critical": make(priority="critical"),
        "cardiac": make(clinical_category="cardiac"),
        "elsewhere": make(facility=other_facility),
        "not_ready": make(readiness__documents_ready=False),
        "child": make(date_of_birth=today.replace(year=today.year - 6)),
        "stretcher": make(needs_stretcher=True),
        "oxygen": make(needs_oxygen=True),
    }
    for name, patient in cases.items():
        if name not in ("pending", "no_referral"):
            factories.ReferralFactory(patient=patient)
    cases["pending"] = make()
    factories.ReferralFactory(patient=cases["pending"], status="pending")
    cases["no_referral"] = make()
    cases["expired"] = make()
    factories.ReferralFactory(patient=cases["expired"], expires_on=today - dt.timedelta(days=1))
    return cases


@pytest.mark.parametrize(
    ("fill", "expected"),
    [
        ({"priority": "critical"}, {"critical"}),
        ({"clinical_category": "cardiac"}, {"cardiac"}),
        ({"facility": "nasser"}, {"elsewhere"}),
        ({"readiness": "not_ready"}, {"not_ready"}),
        ({"referral": "pending"}, {"pending"}),
        ({"referral": "none"}, {"no_referral", "expired"}),
        ({"child": True}, {"child"}),
        ({"mobility": "any"}, {"stretcher", "oxygen"}),
        ({"mobility": "needs_oxygen"}, {"oxygen"}),
        ({"priority": "urgent", "mobility": "any"}, {"stretcher", "oxygen"}),
    ],
)
def test_queue_filter_narrows_the_rows(signed_in, coordinator, mixed_queue, fill, expected):
    client = signed_in(coordinator)
    response = read_form(client.get(QUEUE), "#queue-filters").fill(**fill).submit(client)

    assert response.status_code == 200
    by_ref = {p.case_reference: name for name, p in mixed_queue.items()}
    assert {by_ref[r] for r in refs(response)} == expected
    # The filters are in the URL, and nothing else is.
    query = response.wsgi_request.GET
    assert set(query) <= {
        "priority",
        "clinical_category",
        "facility",
        "readiness",
        "referral",
        "mobility",
        "child",
    }


def test_queue_filter_valid_and_ready(signed_in, coordinator, mixed_queue):
    client = signed_in(coordinator)
    valid = read_form(client.get(QUEUE), "#queue-filters").fill(referral="valid").submit(client)
    ready = read_form(client.get(QUEUE), "#queue-filters").fill(readiness="ready").submit(client)

    by_ref = {p.case_reference: name for name, p in mixed_queue.items()}
    assert {by_ref[r] for r in refs(valid)} == set(mixed_queue) - {
        "pending",
        "no_referral",
        "expired",
    }
    assert {by_ref[r] for r in refs(ready)} == set(mixed_queue) - {"not_ready"}


def test_queue_filtered_rows_keep_their_place_in_the_whole_queue(
    signed_in, coordinator, ready_patient
):
    ready_patient(priority="critical", registered_at=at(9))
    ready_patient(priority="urgent", registered_at=at(8))
    oxygen = ready_patient(priority="urgent", registered_at=at(7), needs_oxygen=True)

    response = signed_in(coordinator).get(QUEUE, {"mobility": "needs_oxygen"})

    assert refs(response) == [oxygen.case_reference]
    assert rows(response)[0]["Place"] == "3"


def test_queue_filter_with_a_value_not_offered_is_ignored_and_said(
    signed_in, coordinator, ready_patient
):
    ready_patient()

    response = signed_in(coordinator).get(QUEUE, {"priority": "whatever"})

    assert response.status_code == 200
    assert len(rows(response)) == 1
    errors = BeautifulSoup(response.content, "html.parser").select("#queue-filters .errorlist")
    assert errors and "whatever" in errors[0].get_text()


def test_queue_nurse_gets_no_facility_filter(signed_in, nurse, ready_patient):
    ready_patient()
    form = read_form(signed_in(nurse).get(QUEUE), "#queue-filters")
    assert "facility" not in form.names()
    with pytest.raises(FormError):
        form.fill(facility="nasser")


# --- Search ---------------------------------------------------------------------------------


@pytest.fixture
def huda(facility):
    patient = factories.PatientFactory(
        facility=facility, name_latin=NAME, name_arabic="هدى برهوم", national_id=NATIONAL_ID
    )
    factories.ReferralFactory(patient=patient)
    return patient


@pytest.mark.parametrize(
    ("typed", "kind"),
    [
        ("huda barh", "name"),
        ("هدى", "name"),
        ("ref", "reference"),
        ("ref-lower", "reference"),
        ("400 765 432", "national_id"),
        ("٤٠٠٧٦٥٤٣٢", "national_id"),
    ],
)
def test_queue_search_is_a_logged_post(signed_in, coordinator, huda, ready_patient, typed, kind):
    other = ready_patient(name_latin="Someone Else")
    typed = {"ref": huda.case_reference, "ref-lower": huda.case_reference.lower()}.get(typed, typed)
    client = signed_in(coordinator)
    form = read_form(client.get(QUEUE), "#queue-search")
    assert form.method == "post"
    before = last_event_id()

    response = form.fill(q=typed).submit(client)

    assert response.status_code == 200
    assert refs(response) == [huda.case_reference]
    assert other.case_reference not in response.content.decode()
    (event,) = new_events(before)
    assert (event.action, event.subject_ref) == ("search", "search")
    assert event.details == {
        "category": "identity",
        "rows": 1,
        "results": [huda.case_reference],
        "by": kind,
    }
    blob = json.dumps(event.details, ensure_ascii=False) + event.reason_text
    for private in (NATIONAL_ID, "400 765", "٤٠٠", "Huda", "huda", "هدى", "Barh"):
        assert private not in blob


def test_queue_search_finds_other_statuses_and_says_so(signed_in, coordinator, huda, today):
    batch = batch_services.batch_create(
        actor=coordinator, direction="exit", planned_date=today, staging_facility=huda.facility
    )
    batch_services.batch_add_patient(batch=batch, patient=huda, actor=coordinator)
    client = signed_in(coordinator)

    response = read_form(client.get(QUEUE), "#queue-search").fill(q="Huda").submit(client)

    (row,) = rows(response)
    assert row["Place"] == "scheduled"


def test_queue_search_is_scoped_to_the_nurses_facility(
    signed_in, other_nurse, huda, other_facility
):
    client = signed_in(other_nurse)
    response = read_form(client.get(QUEUE), "#queue-search").fill(q=NAME).submit(client)
    assert refs(response) == []
    assert huda.case_reference not in response.content.decode()
    response = (
        read_form(client.get(QUEUE), "#queue-search").fill(q=huda.case_reference).submit(client)
    )
    assert refs(response) == []


def test_queue_get_with_a_name_in_the_url_searches_nothing(
    signed_in, coordinator, huda, ready_patient
):
    other = ready_patient()
    before = last_event_id()

    response = signed_in(coordinator).get(
        QUEUE, {"q": "Huda", "name": "Huda", "national_id": NATIONAL_ID}
    )

    assert set(refs(response)) == {huda.case_reference, other.case_reference}
    (event,) = new_events(before)
    assert (event.action, event.subject_ref) == ("view", "list")
    # The search box is not filled from the URL either.
    assert read_form(response, "#queue-search").value("q") == ""


def test_queue_search_empty_shows_the_error_beside_the_field(signed_in, coordinator, huda):
    client = signed_in(coordinator)
    before = last_event_id()
    response = client.post(QUEUE, {"q": "   "})  # what a browser sends when only spaces are typed
    assert response.status_code == 200
    assert BeautifulSoup(response.content, "html.parser").select("#queue-search .errorlist")
    # Not a search: the page fell back to the queue, logged as a list.
    assert [e.subject_ref for e in new_events(before)] == ["list"]


# --- Pagination, queries, access log -------------------------------------------------------


def test_queue_paginates_and_keeps_the_filters(signed_in, coordinator, ready_patient, monkeypatch):
    monkeypatch.setattr("patients.views.queue.PAGE_SIZE", 2)
    cases = [ready_patient(priority="urgent", registered_at=at(10 - i)) for i in range(5)]
    ready_patient(priority="routine")
    client = signed_in(coordinator)

    first = client.get(QUEUE, {"priority": "urgent"})
    assert refs(first) == [p.case_reference for p in cases[:2]]
    next_link = BeautifulSoup(first.content, "html.parser").select_one('nav.pages a[rel="next"]')
    assert next_link["href"] == "?priority=urgent&page=2"

    third = client.get(QUEUE + next_link["href"].replace("page=2", "page=3"))
    assert refs(third) == [cases[4].case_reference]
    assert rows(third)[0]["Place"] == "5"
    assert "Page 3 of 3" in third.content.decode()


def test_queue_first_page_has_fifty_rows(signed_in, coordinator, facility):
    factories.PatientFactory.create_batch(51, facility=facility)
    client = signed_in(coordinator)
    assert len(rows(client.get(QUEUE))) == 50
    second = client.get(QUEUE, {"page": 2})
    assert [r["Place"] for r in rows(second)] == ["51"]


def test_queue_list_page_is_logged(signed_in, coordinator, ready_patient):
    cases = [ready_patient(registered_at=at(5 - i)) for i in range(3)]
    before = last_event_id()

    signed_in(coordinator).get(QUEUE)

    (event,) = new_events(before)
    assert (event.action, event.subject_type, event.subject_ref) == ("view", "patient", "list")
    assert event.details == {
        "category": "identity",
        "rows": 3,
        "results": [p.case_reference for p in cases],
    }


def _queries(client, url, data=None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, data or {})
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("filters", [{}, {"readiness": "ready", "referral": "valid"}])
def test_queue_queries_do_not_grow_with_the_rows(signed_in, coordinator, facility, filters):
    def add(n):
        for _ in range(n):
            patient = factories.PatientFactory(facility=facility, needs_oxygen=True)
            factories.ReferralFactory(patient=patient)
            factories.ReferralFactory(patient=patient, status="pending")
            factories.CompanionFactory(patient=patient)

    client = signed_in(coordinator)
    add(5)
    _queries(client, QUEUE, filters)  # warm the session
    few = _queries(client, QUEUE, filters)
    add(25)
    many = _queries(client, QUEUE, filters)
    assert len(rows(client.get(QUEUE, filters))) == 30
    assert few == many


def test_queue_search_queries_do_not_grow_with_the_rows(signed_in, coordinator, facility):
    for i in range(30):
        patient = factories.PatientFactory(facility=facility, name_latin=f"Noor Test {i}")
        factories.CompanionFactory(patient=patient)
        factories.ReferralFactory(patient=patient)
    client = signed_in(coordinator)
    client.get(QUEUE)

    def count(q):
        with CaptureQueriesContext(connection) as ctx:
            response = client.post(QUEUE, {"q": q})
        return len(ctx.captured_queries), len(rows(response))

    few, n_few = count("Noor Test 2")  # 2, 20..29
    many, n_many = count("Noor Test")
    assert (n_few, n_many) == (11, 30)
    assert few == many


# --- Roles ----------------------------------------------------------------------------------


def test_queue_nurse_sees_only_her_facility(signed_in, nurse, ready_patient, other_facility):
    mine = ready_patient()
    theirs = ready_patient(facility=other_facility)

    response = signed_in(nurse).get(QUEUE)

    assert response.status_code == 200
    assert refs(response) == [mine.case_reference]
    assert theirs.case_reference not in response.content.decode()
    assert 'dir="rtl"' in response.content.decode()  # the nurse reads Arabic


def test_queue_auditor_reads_it(signed_in, auditor, ready_patient):
    patient = ready_patient(diagnosis="SENTINEL-DIAGNOSIS")
    response = signed_in(auditor).get(QUEUE)
    assert refs(response) == [patient.case_reference]
    assert "SENTINEL-DIAGNOSIS" not in response.content.decode()


def test_queue_admin_reads_it(signed_in, admin_user, ready_patient):
    patient = ready_patient()
    assert refs(signed_in(admin_user).get(QUEUE)) == [patient.case_reference]


@pytest.mark.parametrize("url", [QUEUE, RETURNEES])
def test_queue_anonymous_is_sent_to_sign_in(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "/login/?next=" in response["Location"]
    assert client.post(url, {"q": "Huda"}).status_code == 302


def test_queue_only_waiting_patients(signed_in, coordinator, ready_patient):
    waiting = ready_patient()
    ready_patient(status="evacuated")
    ready_patient(status="deceased")
    assert refs(signed_in(coordinator).get(QUEUE)) == [waiting.case_reference]


# --- Registered late ------------------------------------------------------------------------


def _registered(coordinator, facility, national_id: str, occurred_at=None):
    from patients.services import patient_register

    return patient_register(
        actor=coordinator,
        occurred_at=occurred_at,
        name_latin="Amal Saleh",
        name_arabic="أمل صالح",
        national_id=national_id,
        date_of_birth=dt.date(1990, 6, 1),
        sex="female",
        facility=facility,
        priority="urgent",
        clinical_category="renal",
    )


def test_queue_flags_a_registration_recorded_more_than_a_day_late(signed_in, coordinator, facility):
    """Its place comes from the time it states: ahead of people registered since, and said."""
    live = _registered(coordinator, facility, "401000001")
    same_day = _registered(
        coordinator, facility, "401000002", timezone.now() - dt.timedelta(hours=20)
    )
    late = _registered(coordinator, facility, "401000003", at(5))
    response = signed_in(coordinator).get(QUEUE)
    assert refs(response) == [late.case_reference, same_day.case_reference, live.case_reference]
    waiting = [row["Waiting"] for row in rows(response)]
    assert waiting[0] == "5 days registered late"
    assert ["registered late" in cell for cell in waiting] == [True, False, False]
    html = response.content.decode()
    assert html.count("The registration was recorded on") == 1
    # A case without a registration event (written before events existed) is not flagged.
    factories.PatientFactory(facility=facility, registered_at=at(30))
    assert "registered late" not in rows(signed_in(coordinator).get(QUEUE))[0]["Waiting"]


def test_returnee_queue_flags_a_registration_recorded_late(signed_in, coordinator):
    from patients.services import returnee_register

    data = {
        "name_latin": "Omar Haddad",
        "name_arabic": "عمر حداد",
        "date_of_birth": dt.date(1985, 2, 2),
        "sex": "male",
        "left_on": dt.date(2024, 2, 1),
    }
    late = returnee_register(actor=coordinator, occurred_at=at(3), national_id="901000001", **data)
    live = returnee_register(actor=coordinator, national_id="901000002", **data)
    client = signed_in(coordinator)
    response = client.get(RETURNEES)
    assert refs(response) == [late.reference, live.reference]
    assert [row["Waiting"] for row in rows(response)] == ["3 days registered late", "0 days"]
    found = read_form(response, "#returnee-search").fill(q=late.reference).submit(client)
    assert [row["Waiting"] for row in rows(found)] == ["3 days registered late"]


# --- Returnees ------------------------------------------------------------------------------


def test_returnees_in_registration_order_with_their_columns(signed_in, coordinator, today):
    later = factories.ReturneeFactory(registered_at=at(2))
    first = factories.ReturneeFactory(
        registered_at=at(9),
        name_latin="Omar Qishta",
        name_arabic="عمر قشطة",
        date_of_birth=dt.date(today.year - 30, 1, 1),
        left_on=dt.date(2024, 5, 1),
        national_id=NATIONAL_ID,
    )
    factories.ReturneeFactory(status="returned")

    response = signed_in(coordinator).get(RETURNEES)

    assert response.status_code == 200
    assert refs(response) == [first.reference, later.reference]
    row = rows(response)[0]
    assert row["Place"] == "1"
    assert row["Name"] == "Omar Qishta عمر قشطة"
    assert row["Age, sex"] == f"{30 - (today < dt.date(today.year, 1, 1))} male"
    assert row["Left on"] == short(dt.date(2024, 5, 1))
    assert row["Waiting"] == "9 days"
    assert NATIONAL_ID not in response.content.decode()


def test_returnees_list_and_search_are_logged(signed_in, coordinator):
    omar = factories.ReturneeFactory(name_latin="Omar Qishta", national_id=NATIONAL_ID)
    other = factories.ReturneeFactory(name_latin="Layla Shaath")
    client = signed_in(coordinator)
    before = last_event_id()

    page = client.get(RETURNEES)

    (event,) = new_events(before)
    assert (event.subject_type, event.subject_ref, event.action) == ("returnee", "list", "view")
    assert event.details["results"] == [omar.reference, other.reference]

    for typed, kind in (
        ("qishta", "name"),
        (omar.reference, "reference"),
        (NATIONAL_ID, "national_id"),
    ):
        before = last_event_id()
        response = read_form(page, "#returnee-search").fill(q=typed).submit(client)
        assert refs(response) == [omar.reference]
        (event,) = new_events(before)
        assert (event.subject_type, event.action) == ("returnee", "search")
        assert event.details == {
            "category": "identity",
            "rows": 1,
            "results": [omar.reference],
            "by": kind,
        }
        assert NATIONAL_ID not in json.dumps(event.details)


def test_returnees_paginate(signed_in, coordinator, monkeypatch):
    monkeypatch.setattr("patients.views.queue.PAGE_SIZE", 2)
    people = [factories.ReturneeFactory(registered_at=at(9 - i)) for i in range(3)]
    client = signed_in(coordinator)
    assert refs(client.get(RETURNEES)) == [p.reference for p in people[:2]]
    second = client.get(RETURNEES, {"page": 2})
    assert refs(second) == [people[2].reference]
    assert rows(second)[0]["Place"] == "3"


def test_returnees_queries_do_not_grow_with_the_rows(signed_in, coordinator):
    client = signed_in(coordinator)
    factories.ReturneeFactory.create_batch(5)
    _queries(client, RETURNEES)
    few = _queries(client, RETURNEES)
    factories.ReturneeFactory.create_batch(25)
    assert few == _queries(client, RETURNEES)


def test_returnees_refused_to_hospital_staff(signed_in, nurse):
    factories.ReturneeFactory()
    client = signed_in(nurse)
    assert client.get(RETURNEES).status_code == 403
    assert client.post(RETURNEES, {"q": "Omar"}).status_code == 403


def test_returnees_auditor_reads_them_in_arabic(signed_in, auditor):
    auditor.preferred_language = "ar"
    auditor.save()
    returnee = factories.ReturneeFactory()
    response = signed_in(auditor).get(RETURNEES)
    assert response.status_code == 200
    assert 'dir="rtl"' in response.content.decode()
    assert returnee.reference in response.content.decode()


@pytest.mark.parametrize(
    "module",
    [
        "patients/selectors/__init__.py",
        "patients/selectors/queue.py",
        "patients/selectors/rows.py",
        "patients/selectors/search.py",
        "patients/selectors/ward.py",
        "patients/views/queue.py",
        "patients/views/ward.py",
    ],
)
def test_queue_pages_never_import_batches(module):
    # Dependencies point one way (DESIGN section 5): batches uses patients, never the reverse.
    source = (Path(settings.BASE_DIR) / module).read_text()
    assert not re.search(r"^\s*(from|import) batches", source, re.MULTILINE)
