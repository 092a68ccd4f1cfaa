"""Crossings as data (issue 11): their state and the `prepare` refusal at a closed crossing,
batch codes and quotas per crossing, return quotas without companions, the events of a quota
set or changed, the crossing in the API, the builder, the Today page and the back office, and
migration 0004 keeping every batch's crossing."""

import datetime as dt

import pytest
from bs4 import BeautifulSoup
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from batches.models import Batch, Crossing, CrossingQuota
from batches.services import batch_add_patient, batch_create, batch_prepare, quota_set
from batches.services.crossings import crossing_create, crossing_set_state, crossing_update
from batches.services.quotas import places_left_on
from casetracker.audit.models import Event
from tests import factories
from tests.html_forms import read_form
from tests.service_helpers import (
    assert_event,
    events_since,
    mark,
    notifications_since,
    refused,
    the_event_since,
)

pytestmark = pytest.mark.django_db

QUOTAS = "/api/v1/quotas/"
BATCHES = "/api/v1/batches/"
# 6 February 2026, 14:00 in the deployment's time zone (Asia/Gaza).
CLOSED_AT = timezone.make_aware(dt.datetime(2026, 2, 6, 14, 0))


@pytest.fixture
def kerem_shalom(db):
    """Kerem Shalom, open since 1 February 2026 (a row written directly: setup)."""
    return factories.CrossingFactory(state_since=timezone.make_aware(dt.datetime(2026, 2, 1, 8, 0)))


def _close(crossing, actor, **kwargs):
    return crossing_set_state(
        crossing=crossing,
        state="closed",
        actor=actor,
        reason_text=kwargs.pop("reason_text", "Closed by the authorities"),
        source=kwargs.pop("source", "border_authority"),
        occurred_at=kwargs.pop("occurred_at", CLOSED_AT),
        **kwargs,
    )


@pytest.fixture
def ksh_draft(kerem_shalom, coordinator, facility, ready_patient, today):
    """A draft batch at Kerem Shalom today with one ready patient, and its exit quota."""
    factories.QuotaFactory(crossing=kerem_shalom, date=today, agreed_patients=5)
    batch = batch_create(
        actor=coordinator,
        crossing=kerem_shalom,
        direction="exit",
        planned_date=today,
        staging_facility=facility,
    )
    batch_add_patient(batch=batch, patient=ready_patient(), actor=coordinator)
    return batch


# --- The crossing and its state ---------------------------------------------------------------


def test_migration_and_flush_leave_rafah_the_default_crossing(db):
    rafah = Crossing.objects.get(code="rafah")
    assert (rafah.prefix, rafah.name_en, rafah.name_ar, rafah.state) == (
        "RAF",
        "Rafah",
        "رفح",
        "open",
    )


def test_crossing_name_follows_the_active_language(kerem_shalom, settings):
    from django.utils import translation

    with translation.override("ar"):
        assert kerem_shalom.name == "كرم أبو سالم"
    with translation.override("en"):
        assert kerem_shalom.name == "Kerem Shalom"


def test_crossing_create_writes_a_create_event(admin_user):
    since = mark()
    crossing = crossing_create(
        actor=admin_user,
        code="kerem-shalom",
        prefix="KSH",
        name_en=" Kerem  Shalom ",
        name_ar="كرم أبو سالم",
        opens_at=dt.time(8),
        closes_at=dt.time(15),
    )
    assert (crossing.name_en, crossing.state, crossing.hours) == (
        "Kerem  Shalom",
        "open",
        "08:00\u201315:00",
    )
    event = the_event_since(since)
    assert_event(
        event,
        subject_type="crossing",
        subject_ref="kerem-shalom",
        action="create",
        actor=admin_user,
        to_state="open",
        details={"prefix": "KSH", "hours": "08:00\u201315:00"},
    )


@pytest.mark.parametrize(
    ("field", "fields"),
    [
        ("code", {"code": "Kerem Shalom"}),
        ("code", {"code": "rafah"}),
        ("prefix", {"prefix": "ksh"}),
        ("prefix", {"prefix": "RAF"}),
        ("prefix", {"prefix": "TOOLONGX"}),
        ("name_en", {"name_en": " "}),
        ("name_ar", {"name_ar": ""}),
        ("opens_at", {"opens_at": None, "closes_at": dt.time(15)}),
    ],
)
def test_crossing_create_refuses_naming_the_field(admin_user, field, fields):
    values = {"code": "kerem-shalom", "prefix": "KSH", "name_en": "K", "name_ar": "ك"}
    with refused(ValidationError) as info:
        crossing_create(actor=admin_user, **{**values, **fields})
    assert field in info.value.message_dict
    assert not Crossing.objects.filter(code="kerem-shalom").exists()


def test_addcrossing_command_creates_an_open_crossing_with_an_event():
    import io

    from django.core.management import call_command

    out = io.StringIO()
    arguments = ["--prefix", "KSH", "--name-en", "Kerem Shalom", "--name-ar", "كرم أبو سالم"]
    call_command(
        "addcrossing",
        "kerem-shalom",
        *arguments,
        "--opens",
        "08:00",
        "--closes",
        "15:00",
        stdout=out,
    )
    assert "Created crossing kerem-shalom (KSH, open)." in out.getvalue()
    crossing = Crossing.objects.get(code="kerem-shalom")
    assert (crossing.opens_at, crossing.closes_at) == (dt.time(8), dt.time(15))
    event = Event.objects.get(subject_type="crossing")
    assert (event.action, event.channel, event.actor) == ("create", "command", None)


def test_addcrossing_command_refuses_naming_the_field(db):
    from django.core.management import CommandError, call_command

    arguments = ["--name-en", "Rafah 2", "--name-ar", "رفح"]
    with pytest.raises(CommandError, match=r"^prefix: another crossing already uses"):
        call_command("addcrossing", "rafah-two", "--prefix", "RAF", *arguments)
    with pytest.raises(CommandError, match=r"^closes_at: give both"):
        call_command("addcrossing", "rafah-two", "--prefix", "RTW", "--opens", "08:00", *arguments)
    assert list(Crossing.objects.values_list("code", flat=True)) == ["rafah"]


def test_crossing_update_changes_details_not_code_or_state(kerem_shalom, admin_user):
    since = mark()
    crossing_update(crossing=kerem_shalom, actor=admin_user, note="Airport route", name_en="KS")
    event = the_event_since(since)
    assert (event.action, event.details["fields"]) == ("update", ["name_en", "note"])
    for forbidden in ({"code": "x"}, {"prefix": "XX"}, {"state": "closed"}):
        with refused(ValidationError) as info:
            crossing_update(crossing=kerem_shalom, actor=admin_user, **forbidden)
        assert set(info.value.message_dict) == set(forbidden)
    # The same values again: nothing to record.
    since = mark()
    crossing_update(crossing=kerem_shalom, actor=admin_user, note="Airport route")
    assert events_since(since) == []


def test_crossing_set_state_closes_with_when_why_and_who(kerem_shalom, coordinator):
    since = mark()
    crossing = _close(kerem_shalom, coordinator)
    crossing.refresh_from_db()
    assert (crossing.state, crossing.state_since, crossing.state_source) == (
        "closed",
        CLOSED_AT,
        "border_authority",
    )
    event = the_event_since(since)
    assert_event(
        event,
        subject_type="crossing",
        subject_ref="kerem-shalom",
        action="crossing_state",
        from_state="open",
        to_state="closed",
        actor=coordinator,
        reason_text="Closed by the authorities",
        source="border_authority",
        occurred_at=CLOSED_AT,
    )
    assert crossing.state_sentence() == (
        "Kerem Shalom is closed since 6 Feb 2026, 14:00: Closed by the authorities"
    )
    # Telling it again changes nothing and records nothing.
    since = mark()
    _close(crossing, coordinator, occurred_at=None)
    assert events_since(since) == []


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("reason_text", {"reason_text": "  "}),
        ("source", {"source": ""}),
        ("source", {"source": "rumour"}),
        ("state", {"state": "half-open"}),
        ("occurred_at", {"occurred_at": timezone.now() + dt.timedelta(days=1)}),
        # Before the current state (open since 1 February) began.
        ("occurred_at", {"occurred_at": timezone.make_aware(dt.datetime(2026, 1, 31))}),
    ],
)
def test_crossing_set_state_refuses_naming_the_field(kerem_shalom, coordinator, field, kwargs):
    values = {
        "state": "closed",
        "reason_text": "Closed",
        "source": "who",
        "occurred_at": CLOSED_AT,
        **kwargs,
    }
    with refused(ValidationError) as info:
        crossing_set_state(crossing=kerem_shalom, actor=coordinator, **values)
    assert field in info.value.message_dict
    kerem_shalom.refresh_from_db()
    assert kerem_shalom.state == "open"


def test_crossing_reopens_without_a_reason(kerem_shalom, coordinator):
    _close(kerem_shalom, coordinator)
    since = mark()
    crossing = crossing_set_state(crossing=kerem_shalom, state="open", actor=coordinator)
    assert (crossing.state, crossing.state_reason, crossing.state_sentence()) == ("open", "", "")
    event = the_event_since(since)
    assert (event.from_state, event.to_state) == ("closed", "open")


# --- prepare at a closed or restricted crossing ----------------------------------------------


def test_batch_prepare_refused_at_a_closed_crossing_with_the_reason(ksh_draft, coordinator):
    _close(ksh_draft.crossing, coordinator)
    with refused(match="^Kerem Shalom is closed since 6 Feb 2026, 14:00: Closed by the") as info:
        batch_prepare(batch=ksh_draft, actor=coordinator)
    assert len(info.value.problems) == 1
    # Open again, the same batch is prepared.
    crossing_set_state(crossing=ksh_draft.crossing, state="open", actor=coordinator)
    assert batch_prepare(batch=ksh_draft, actor=coordinator).status == "prepared"


@pytest.fixture
def ksh_draft_yesterday(kerem_shalom, coordinator, facility, ready_patient, today):
    """A draft at Kerem Shalom for today, opened yesterday at 08:00 (recorded now)."""
    factories.QuotaFactory(crossing=kerem_shalom, date=today, agreed_patients=5)
    yesterday = today - dt.timedelta(days=1)
    batch = batch_create(
        actor=coordinator,
        crossing=kerem_shalom,
        direction="exit",
        planned_date=today,
        staging_facility=facility,
        occurred_at=timezone.make_aware(dt.datetime.combine(yesterday, dt.time(8))),
    )
    batch_add_patient(batch=batch, patient=ready_patient(), actor=coordinator)
    return batch, yesterday


def test_batch_prepare_recorded_late_is_judged_by_the_state_it_occurred_in(
    ksh_draft_yesterday, coordinator
):
    """Prepared yesterday at noon while the crossing was open; it closed an hour ago: the
    closure began after the preparation and does not refuse it."""
    batch, yesterday = ksh_draft_yesterday
    _close(batch.crossing, coordinator, occurred_at=timezone.now() - dt.timedelta(hours=1))
    noon = timezone.make_aware(dt.datetime.combine(yesterday, dt.time(12)))
    since = mark()
    batch = batch_prepare(batch=batch, actor=coordinator, occurred_at=noon)
    assert batch.status == "prepared"
    event = the_event_since(since)
    assert_event(event, action="prepare", from_state="draft", occurred_at=noon)
    # Notified as any preparation.
    assert {n.event_id for n in notifications_since(since)} == {event.pk}


def test_batch_prepare_recorded_late_after_the_closure_began_is_refused(
    ksh_draft_yesterday, coordinator
):
    batch, yesterday = ksh_draft_yesterday
    closed_at = timezone.make_aware(dt.datetime.combine(yesterday, dt.time(10)))
    _close(batch.crossing, coordinator, occurred_at=closed_at)
    since = mark()
    for when in (closed_at, closed_at + dt.timedelta(hours=2)):
        with refused(match="^Kerem Shalom is closed since") as info:
            batch_prepare(batch=batch, actor=coordinator, occurred_at=when)
        assert len(info.value.problems) == 1
    # Before the closure began: allowed.
    batch = batch_prepare(
        batch=batch, actor=coordinator, occurred_at=closed_at - dt.timedelta(minutes=1)
    )
    assert batch.status == "prepared"
    assert [e.action for e in events_since(since)] == ["prepare"]


def test_batch_prepare_refusal_in_arabic(ksh_draft, coordinator):
    from django.utils import translation

    _close(ksh_draft.crossing, coordinator)
    with translation.override("ar"), refused() as info:
        batch_prepare(batch=ksh_draft, actor=coordinator)
    assert "كرم أبو سالم" in info.value.problems[0]


def test_batch_prepare_allowed_at_a_restricted_crossing(ksh_draft, coordinator):
    crossing_set_state(
        crossing=ksh_draft.crossing,
        state="restricted",
        actor=coordinator,
        reason_text="Patients only, no companions",
        source="who",
    )
    assert batch_prepare(batch=ksh_draft, actor=coordinator).status == "prepared"


def test_batch_page_warns_of_a_restricted_or_closed_crossing(client, ksh_draft, coordinator):
    client.force_login(coordinator)
    url = reverse("batches:detail", args=[ksh_draft.code])
    assert "is restricted since" not in client.get(url).content.decode()
    crossing_set_state(
        crossing=ksh_draft.crossing,
        state="restricted",
        actor=coordinator,
        reason_text="Patients only",
        source="who",
    )
    html = client.get(url).content.decode()
    assert "Kerem Shalom is restricted since" in html
    _close(ksh_draft.crossing, coordinator, occurred_at=None)
    html = client.get(url).content.decode()
    assert "Kerem Shalom is closed since" in html
    assert "cannot be prepared while the crossing is closed" in html


# --- Codes and quotas per crossing -------------------------------------------------------------


def test_batch_codes_are_numbered_per_crossing(kerem_shalom, coordinator, facility, today):
    made = [
        batch_create(
            actor=coordinator,
            crossing=crossing,
            direction="exit",
            planned_date=today,
            staging_facility=facility,
        ).code
        for crossing in ("rafah", kerem_shalom, "kerem-shalom", None)
    ]
    day = today.isoformat()
    assert made == [f"RAF-{day}-1", f"KSH-{day}-1", f"KSH-{day}-2", f"RAF-{day}-2"]
    assert Batch.objects.get(code=f"KSH-{day}-1").crossing == kerem_shalom


def test_batch_create_refuses_an_unknown_crossing(coordinator, facility, today):
    with refused(ValidationError) as info:
        batch_create(
            actor=coordinator,
            crossing="erez",
            direction="exit",
            planned_date=today,
            staging_facility=facility,
        )
    assert set(info.value.message_dict) == {"crossing"}


def test_quotas_and_places_are_per_crossing(ksh_draft, coordinator, today):
    factories.QuotaFactory(date=today, agreed_patients=50)  # Rafah's
    assert places_left_on(crossing="kerem-shalom", day=today, direction="exit").patients == 5
    batch_prepare(batch=ksh_draft, actor=coordinator)
    assert places_left_on(crossing="kerem-shalom", day=today, direction="exit").patients == 4
    assert places_left_on(crossing="rafah", day=today, direction="exit").patients == 50


def test_batch_prepare_reads_its_own_crossings_quota(ksh_draft, coordinator, today):
    CrossingQuota.objects.filter(crossing="kerem-shalom").delete()
    factories.QuotaFactory(date=today)  # Rafah's quota does not count
    with refused(match=f"no quota agreed for Kerem Shalom exit on {today.isoformat()}"):
        batch_prepare(batch=ksh_draft, actor=coordinator)


# --- Quotas: wording, companions, events ------------------------------------------------------


def test_quota_set_records_the_first_numbers(coordinator, kerem_shalom, today):
    since = mark()
    quota = quota_set(
        actor=coordinator,
        crossing="kerem-shalom",
        day=today,
        direction="exit",
        agreed_patients=20,
        agreed_companions=30,
        source="who",
        reason_text="Agreed at the morning call",
    )
    event = the_event_since(since)
    assert_event(
        event,
        subject_type="quota",
        subject_ref=f"kerem-shalom/{today.isoformat()}/exit",
        action="create",
        actor=coordinator,
        source="who",
        reason_text="Agreed at the morning call",
        details={
            "crossing": "kerem-shalom",
            "date": today.isoformat(),
            "direction": "exit",
            "old": None,
            "new": {"patients": 20, "companions": 30},
        },
    )
    assert (quota.crossing_id, quota.agreed_patients, quota.agreed_companions) == (
        "kerem-shalom",
        20,
        30,
    )


def test_quota_change_is_an_event_with_old_and_new_numbers_and_source(coordinator, quota, today):
    since = mark()
    quota_set(
        actor=coordinator,
        crossing="rafah",
        day=today,
        direction="exit",
        agreed_patients=20,
        agreed_companions=40,
        source="border_authority",
    )
    event = the_event_since(since)
    assert_event(
        event,
        subject_type="quota",
        action="quota_change",
        actor=coordinator,
        source="border_authority",
        details={
            "crossing": "rafah",
            "date": today.isoformat(),
            "direction": "exit",
            "old": {"patients": 50, "companions": 100},
            "new": {"patients": 20, "companions": 40},
        },
    )
    quota.refresh_from_db()
    assert (quota.agreed_patients, quota.agreed_companions) == (20, 40)


def test_quota_change_without_source_is_refused(coordinator, quota, today):
    with refused(ValidationError) as info:
        quota_set(
            actor=coordinator,
            crossing="rafah",
            day=today,
            direction="exit",
            agreed_patients=20,
            agreed_companions=40,
        )
    assert set(info.value.message_dict) == {"source"}
    quota.refresh_from_db()
    assert quota.agreed_patients == 50


def test_quota_set_with_the_same_numbers_records_nothing(coordinator, quota, today):
    since = mark()
    quota_set(
        actor=coordinator,
        crossing="rafah",
        day=today,
        direction="exit",
        agreed_patients=50,
        agreed_companions=100,
    )
    assert events_since(since) == []


def test_return_quota_counts_returnees_only(coordinator, today):
    since = mark()
    quota = quota_set(
        actor=coordinator, crossing="rafah", day=today, direction="return", agreed_returnees=40
    )
    assert (quota.agreed_returnees, quota.agreed_companions) == (40, 0)
    assert the_event_since(since).details["new"] == {"returnees": 40}


@pytest.mark.parametrize(
    ("field", "numbers"),
    [
        ("agreed_companions", {"agreed_returnees": 40, "agreed_companions": 2}),
        ("agreed_companions", {"agreed_returnees": 40, "agreed_companions": 0}),
        ("agreed_patients", {"agreed_patients": 40}),
        ("agreed_returnees", {}),
        ("agreed_returnees", {"agreed_returnees": -1}),
    ],
)
def test_return_quota_with_companions_is_refused_naming_the_field(
    coordinator, today, field, numbers
):
    with refused(ValidationError) as info:
        quota_set(actor=coordinator, crossing="rafah", day=today, direction="return", **numbers)
    assert field in info.value.message_dict
    assert not CrossingQuota.objects.exists()


@pytest.mark.parametrize(
    ("field", "numbers"),
    [
        ("agreed_returnees", {"agreed_patients": 5, "agreed_companions": 5, "agreed_returnees": 5}),
        ("agreed_companions", {"agreed_patients": 5}),
        ("agreed_patients", {"agreed_patients": -1, "agreed_companions": 5}),
    ],
)
def test_exit_quota_refuses_naming_the_field(coordinator, today, field, numbers):
    with refused(ValidationError) as info:
        quota_set(actor=coordinator, crossing="rafah", day=today, direction="exit", **numbers)
    assert field in info.value.message_dict


def test_return_quota_keeps_no_companions_in_the_database(quota, today):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        CrossingQuota.objects.create(
            crossing_id="rafah",
            date=today,
            direction="return",
            agreed_patients=5,
            agreed_companions=1,
        )


# --- The API ---------------------------------------------------------------------------------


def test_api_return_quota_neither_asks_for_nor_shows_companions(api, coordinator, today):
    body = {"date": today.isoformat(), "direction": "return", "agreed_returnees": 40}
    response = api(coordinator).post(QUOTAS, body, format="json")
    assert response.status_code == 201
    quota = CrossingQuota.objects.get()
    assert response.json() == {**body, "id": quota.pk, "crossing": "rafah"}
    assert quota.agreed_companions == 0
    listed = api(coordinator).get(QUOTAS).json()["results"]
    assert listed == [{**body, "id": quota.pk, "crossing": "rafah"}]


@pytest.mark.parametrize("field", ["agreed_companions", "agreed_patients"])
def test_api_return_quota_with_companions_is_400_naming_the_field(api, coordinator, today, field):
    body = {"date": today.isoformat(), "direction": "return", "agreed_returnees": 4, field: 2}
    response = api(coordinator).post(QUOTAS, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not CrossingQuota.objects.exists()


def test_api_quota_change_needs_a_source_and_is_an_event(api, coordinator, quota, today):
    body = {
        "crossing": "rafah",
        "date": today.isoformat(),
        "direction": "exit",
        "agreed_patients": 10,
        "agreed_companions": 10,
    }
    response = api(coordinator).post(QUOTAS, body, format="json")
    assert response.status_code == 400
    assert "source" in response.json()
    since = mark()
    body |= {"source": "who", "note": "Reduced at the evening call"}
    response = api(coordinator).post(QUOTAS, body, format="json")
    assert response.status_code == 201
    assert "source" not in response.json() and "note" not in response.json()
    event = the_event_since(since)
    assert (event.action, event.channel, event.source, event.reason_text) == (
        "quota_change",
        "api",
        "who",
        "Reduced at the evening call",
    )
    assert event.details["old"] == {"patients": 50, "companions": 100}


def test_api_quota_per_crossing_and_filter(api, coordinator, kerem_shalom, today):
    body = {
        "crossing": "kerem-shalom",
        "date": today.isoformat(),
        "direction": "exit",
        "agreed_patients": 20,
        "agreed_companions": 30,
    }
    assert api(coordinator).post(QUOTAS, body, format="json").status_code == 201
    factories.QuotaFactory(date=today)
    listed = api(coordinator).get(QUOTAS, {"crossing": "kerem-shalom"}).json()["results"]
    assert [q["crossing"] for q in listed] == ["kerem-shalom"]
    # An unknown code finds nothing, as an unknown facility does.
    assert api(coordinator).get(QUOTAS, {"crossing": "erez"}).json()["results"] == []


def test_api_batch_at_another_crossing(api, coordinator, kerem_shalom, facility, today):
    body = {
        "crossing": "kerem-shalom",
        "direction": "exit",
        "planned_date": today.isoformat(),
        "staging_facility": facility.code,
    }
    response = api(coordinator).post(BATCHES, body, format="json")
    assert response.status_code == 201
    assert response.json()["code"] == f"KSH-{today.isoformat()}-1"
    assert response.json()["crossing"] == "kerem-shalom"
    factories.BatchFactory(staging_facility=facility)
    codes = [
        b["code"]
        for b in api(coordinator).get(BATCHES, {"crossing": "kerem-shalom"}).json()["results"]
    ]
    assert codes == [f"KSH-{today.isoformat()}-1"]


def test_api_prepare_at_a_closed_crossing_is_409_with_the_reason(api, coordinator, ksh_draft):
    _close(ksh_draft.crossing, coordinator)
    response = api(coordinator).post(f"{BATCHES}{ksh_draft.code}/prepare/")
    assert response.status_code == 409
    assert response.json()["problems"][0].startswith("Kerem Shalom is closed since 6 Feb 2026")


def test_api_proposal_notes_a_closed_crossing(api, coordinator, kerem_shalom, today):
    _close(kerem_shalom, coordinator)
    response = api(coordinator).get(
        "/api/v1/batches/proposal/",
        {"crossing": "kerem-shalom", "direction": "exit", "date": today.isoformat()},
    )
    assert response.status_code == 200
    codes = [note["code"] for note in response.json()["notes"]]
    assert codes[0] == "crossing_closed"
    assert response.json()["crossing"] == "kerem-shalom"


def test_events_api_filters_crossing_and_quota_events(api, auditor, coordinator, kerem_shalom):
    _close(kerem_shalom, coordinator)
    body = api(auditor).get("/api/v1/events/", {"subject_type": "crossing"}).json()
    assert [e["action"] for e in body["results"]] == ["crossing_state"]


# --- Pages -------------------------------------------------------------------------------------


def _choose(client, crossing, day, facility):
    page = client.get(reverse("batches:builder"))
    form = read_form(page, "#choose")
    form.fill(
        crossing=crossing, direction="exit", date=day.isoformat(), staging_facility=facility.code
    )
    return form.submit(client)


def test_builder_lists_the_crossings_and_refuses_a_closed_one(
    client, coordinator, kerem_shalom, facility, today
):
    _close(kerem_shalom, coordinator)
    client.force_login(coordinator)
    page = client.get(reverse("batches:builder"))
    options = {
        o["value"]: o.get_text(strip=True)
        for o in BeautifulSoup(page.content, "html.parser").select("#id_crossing option")
    }
    assert options == {
        "kerem-shalom": "Kerem Shalom: closed since 6 Feb 2026, 14:00",
        "rafah": "Rafah",
    }
    response = _choose(client, "kerem-shalom", today, facility)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Kerem Shalom is closed since 6 Feb 2026, 14:00: Closed by the authorities" in html
    assert 'id="build"' not in html  # no proposal, nothing to save


def test_builder_warns_of_a_restricted_crossing_and_saves_its_batch(
    client, coordinator, kerem_shalom, facility, ready_patient, today
):
    crossing_set_state(
        crossing=kerem_shalom,
        state="restricted",
        actor=coordinator,
        reason_text="Patients only",
        source="who",
    )
    factories.QuotaFactory(crossing=kerem_shalom, date=today, agreed_patients=3)
    patient = ready_patient()
    client.force_login(coordinator)
    response = _choose(client, "kerem-shalom", today, facility)
    assert "Kerem Shalom is restricted since" in response.content.decode()
    form = read_form(response, "#build")
    saved = form.submit(client, button="save")
    assert saved.status_code == 302
    batch = Batch.objects.get()
    assert batch.code.startswith("KSH-") and batch.crossing_id == "kerem-shalom"
    assert batch.members.get().patient == patient


def test_today_groups_by_crossing_with_its_state(client, coordinator, kerem_shalom, today):
    factories.QuotaFactory(date=today)
    factories.QuotaFactory(crossing=kerem_shalom, date=today, agreed_patients=20)
    _close(kerem_shalom, coordinator)
    client.force_login(coordinator)
    soup = BeautifulSoup(client.get(reverse("batches:today")).content, "html.parser")
    headings = [h.get_text(" ", strip=True) for h in soup.select("#days-title ~ h3")]
    assert headings == ["Kerem Shalom closed", "Rafah open"]
    text = soup.get_text(" ", strip=True)
    assert "Kerem Shalom is closed since 6 Feb 2026, 14:00: Closed by the authorities" in text
    assert "20 of 20 patients" in text and "50 of 50 patients" in text


def test_today_names_crossings_in_arabic(client, coordinator, kerem_shalom, today):
    factories.QuotaFactory(crossing=kerem_shalom, date=today)
    coordinator.preferred_language = "ar"
    coordinator.save()
    client.force_login(coordinator)
    html = client.get(reverse("batches:today")).content.decode()
    assert "كرم أبو سالم" in html and "رفح" in html


def test_manifest_names_the_crossing_in_both_languages(ksh_draft, coordinator):
    from batches.manifest import build_manifest

    manifest = build_manifest(batch=ksh_draft, user=coordinator)
    assert dict(manifest.crossing.texts) == {"en": "Kerem Shalom", "ar": "كرم أبو سالم"}


# --- The back office ---------------------------------------------------------------------------


def test_admin_crossing_state_changes_through_the_service(client, admin_user, kerem_shalom):
    client.force_login(admin_user)
    url = reverse("admin:batches_crossing_change", args=[kerem_shalom.pk])
    form = read_form(client.get(url), "#crossing_form")
    form.fill(new_state="closed")
    response = form.submit(client, button="_save")
    assert response.status_code == 200  # why and who are required to close it
    assert "Required to close or restrict the crossing." in response.content.decode()

    form = read_form(client.get(url), "#crossing_form")
    form.fill(new_state="closed", why="Closed by the authorities", informed_by="who")
    since = mark()
    assert form.submit(client, button="_save").status_code == 302
    event = the_event_since(since)
    assert (event.action, event.to_state, event.channel, event.actor) == (
        "crossing_state",
        "closed",
        "admin",
        admin_user,
    )
    kerem_shalom.refresh_from_db()
    assert (kerem_shalom.state, kerem_shalom.state_reason) == (
        "closed",
        "Closed by the authorities",
    )


@pytest.mark.parametrize("who", ["coordinator", "nurse", "auditor"])
def test_admin_crossings_are_read_only_but_for_admins(client, request, who, kerem_shalom):
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("admin:batches_crossing_changelist")).status_code == 200
    assert client.get(reverse("admin:batches_crossing_add")).status_code == 403
    url = reverse("admin:batches_crossing_change", args=[kerem_shalom.pk])
    assert client.post(url, {"name_en": "X"}).status_code == 403


def test_admin_return_quota_form_asks_for_returnees_not_companions(client, coordinator, today):
    client.force_login(coordinator)
    exit_page = client.get(reverse("admin:batches_crossingquota_add"))
    assert "Add a return quota instead" in exit_page.content.decode()
    page = client.get(reverse("admin:batches_crossingquota_add") + "?direction=return")
    form = read_form(page, "#crossingquota_form")
    assert "agreed_companions" not in form.controls and "agreed_patients" not in form.controls
    assert "agreed returnees" in page.content.decode().lower()
    form.fill(date=today.isoformat(), agreed_returnees="30")
    since = mark()
    assert form.submit(client, button="_save").status_code == 302
    quota = CrossingQuota.objects.get()
    assert (quota.direction, quota.agreed_returnees, quota.agreed_companions) == ("return", 30, 0)
    assert the_event_since(since).details["new"] == {"returnees": 30}

    change = client.get(reverse("admin:batches_crossingquota_change", args=[quota.pk]))
    form = read_form(change, "#crossingquota_form")
    assert "agreed_companions" not in form.controls
    form.fill(agreed_returnees="25")
    refused_page = form.submit(client, button="_save")
    assert refused_page.status_code == 200  # a change says who agreed it
    form = read_form(change, "#crossingquota_form")
    form.fill(agreed_returnees="25", source="border_authority")
    since = mark()
    assert form.submit(client, button="_save").status_code == 302
    event = the_event_since(since)
    assert (event.action, event.details["old"], event.details["new"]) == (
        "quota_change",
        {"returnees": 30},
        {"returnees": 25},
    )


def test_admin_quota_list_says_returnees_for_a_return_day(client, coordinator, today):
    factories.QuotaFactory(date=today, direction="return", agreed_patients=12)
    client.force_login(coordinator)
    html = client.get(reverse("admin:batches_crossingquota_changelist")).content.decode()
    assert "12 returnees" in html


def test_admin_crossing_filter_on_batches(client, coordinator, kerem_shalom, facility):
    factories.BatchFactory(staging_facility=facility, crossing=kerem_shalom, code="KSH-T-1")
    client.force_login(coordinator)
    url = reverse("admin:batches_batch_changelist")
    response = client.get(url, {"crossing__code__exact": "kerem-shalom"})
    assert response.status_code == 200
    assert "KSH-T-1" in response.content.decode()


# --- Migration 0004 ----------------------------------------------------------------------------


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_migration_0004_keeps_every_batch_on_its_crossing():
    """Run on PostgreSQL too (DATABASE_URL): the columns become foreign keys in place."""
    before = [("batches", "0003_vehicles")]
    after = [("batches", "0004_crossings")]
    apps = _migrate(before)
    try:
        facility = apps.get_model("accounts", "Facility").objects.create(
            code="mig", name_en="Hospital", name_ar="مستشفى", kind="staging", governorate="gaza"
        )
        old_batch = apps.get_model("batches", "Batch")
        old_batch.objects.create(
            code="RAF-2026-02-04-1",
            crossing="rafah",
            direction="exit",
            planned_date=dt.date(2026, 2, 4),
            staging_facility=facility,
        )
        quotas = apps.get_model("batches", "CrossingQuota")
        quotas.objects.create(
            crossing="rafah",
            date=dt.date(2026, 2, 4),
            direction="exit",
            agreed_patients=50,
            agreed_companions=100,
        )
        quotas.objects.create(
            crossing="rafah",
            date=dt.date(2026, 2, 4),
            direction="return",
            agreed_patients=50,
            agreed_companions=100,
        )

        apps = _migrate(after)
        crossing = apps.get_model("batches", "Crossing").objects.get()
        assert (crossing.code, crossing.prefix, crossing.name_ar) == ("rafah", "RAF", "رفح")
        batch = apps.get_model("batches", "Batch").objects.get()
        assert (batch.crossing_id, batch.crossing.name_en) == ("rafah", "Rafah")
        new_quotas = apps.get_model("batches", "CrossingQuota").objects.order_by("direction")
        assert [(q.crossing_id, q.direction, q.agreed_companions) for q in new_quotas] == [
            ("rafah", "exit", 100),
            ("rafah", "return", 0),
        ]

        # And back: the plain column again, with its values.
        apps = _migrate(before)
        assert apps.get_model("batches", "Batch").objects.get().crossing == "rafah"
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
