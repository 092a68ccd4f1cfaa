"""Batch facts recorded after the fact: every transition, clearance decision, crossing and vehicle
change takes `occurred_at` (default now), refused in the future and before the batch's latest
event; the events keep both times; the reports, the timeline, the API and the pages read when it
occurred."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import formats, timezone

from batches.models import Batch
from batches.reports.selectors import Period, cancellations
from batches.services import (
    batch_add_patient,
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
    vehicle_add,
    vehicle_assign,
    vehicle_remove,
)
from batches.services.clearance import batch_record_clearances, pending_decisions
from casetracker.audit.models import Event
from casetracker.audit.occurred import CLOCK_SKEW
from tests import factories
from tests.html_forms import read_form
from tests.service_helpers import (
    assert_event,
    events_since,
    mark,
    refused,
    the_event_since,
    world,
)

pytestmark = pytest.mark.django_db

BATCHES = "/api/v1/batches/"
CANCEL = {"reason_code": "no_reason_given", "reason_text": "relayed by WHO", "source": "who"}


def ago(hours: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(hours=hours)


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def shown(moment: dt.datetime) -> str:
    """A time as the timeline shows it (the `cell` filter)."""
    return formats.date_format(timezone.localtime(moment), "Y-m-d H:i")


# --- Driving a batch with stated times ---------------------------------------------------------

# The state each step starts from, and the steps that lead there from a draft.
BEFORE = {
    "prepare": [],
    "reopen": ["prepare"],
    "submit": ["prepare"],
    "clear": ["prepare", "submit"],
    "depart": ["prepare", "submit", "clear"],
    "cross": ["prepare", "submit", "clear", "depart"],
    "cancel": ["prepare", "submit", "clear"],
}
TARGET = {
    "prepare": "prepared",
    "reopen": "draft",
    "submit": "submitted",
    "clear": "cleared",
    "depart": "in_transit",
    "cross": "crossed",
    "cancel": "cancelled",
}


def take(name: str, batch: Batch, actor, at: dt.datetime | None) -> Batch:
    """Take one step at `at`, with what it needs (clearance decided at the same time)."""
    batch = Batch.objects.get(pk=batch.pk)
    if name == "clear" and pending_decisions(batch):
        batch_record_clearances(
            batch=batch, actor=actor, decisions=pending_decisions(batch), occurred_at=at
        )
    service = {
        "prepare": batch_prepare,
        "reopen": batch_reopen,
        "submit": batch_submit,
        "clear": batch_clear,
        "depart": batch_depart,
        "cross": batch_cross,
        "cancel": batch_cancel,
    }[name]
    kwargs = {}
    if name == "cross":
        kwargs["outcomes"] = {line.pk: "crossed" for line in batch.members.filter(is_open=True)}
    if name == "cancel":
        kwargs.update(CANCEL)
    return service(batch=batch, actor=actor, occurred_at=at, **kwargs)


@pytest.fixture
def opened(coordinator, facility, quota, ready_patient):
    """A draft for today opened 12 hours ago (recorded now), with a patient and a companion."""
    batch = batch_create(
        actor=coordinator,
        direction="exit",
        planned_date=timezone.localdate(),
        staging_facility=facility,
        occurred_at=ago(12),
    )
    patient = ready_patient()
    companion = factories.CompanionFactory(patient=patient)
    batch_add_patient(batch=batch, patient=patient, actor=coordinator, companions=[companion])
    return batch


def before_step(name: str, batch: Batch, actor) -> tuple[Batch, dt.datetime]:
    """The batch brought to where `name` starts, one step an hour from 11 hours ago; returns it
    and the time of its latest event."""
    latest = ago(12)
    for n, step in enumerate(BEFORE[name]):
        latest = ago(11 - n)
        batch = take(step, batch, actor, latest)
    return Batch.objects.get(pk=batch.pk), latest


# --- Every step ----------------------------------------------------------------------------------


def test_batch_create_keeps_when_the_batch_was_opened(coordinator, facility):
    opened_at = ago(30)
    since = mark()
    batch = batch_create(
        actor=coordinator,
        direction="exit",
        planned_date=timezone.localdate() - dt.timedelta(days=1),
        staging_facility=facility,
        occurred_at=opened_at,
    )
    event = the_event_since(since)
    assert_event(event, action="create", subject_ref=batch.code, occurred_at=opened_at)
    assert event.created_at > opened_at + dt.timedelta(hours=29)


def test_batch_create_refuses_a_time_in_the_future(coordinator, facility):
    with refused(ValidationError, match="in the future"):
        batch_create(
            actor=coordinator,
            direction="exit",
            planned_date=timezone.localdate(),
            staging_facility=facility,
            occurred_at=timezone.now() + CLOCK_SKEW + dt.timedelta(minutes=5),
        )


@pytest.mark.parametrize("name", list(BEFORE))
def test_each_step_keeps_when_it_occurred(name, opened, coordinator):
    batch, _latest = before_step(name, opened, coordinator)
    occurred = ago(2)
    since = mark()
    batch = take(name, batch, coordinator, occurred)
    assert batch.status == TARGET[name]
    [event] = [e for e in events_since(since) if e.subject_type == "batch"]
    assert_event(event, action=name, subject_ref=batch.code, occurred_at=occurred)
    assert event.created_at - occurred > dt.timedelta(hours=1, minutes=59)
    assert event.recorded_late


@pytest.mark.parametrize("name", list(BEFORE))
def test_each_step_refuses_a_time_before_the_batchs_latest_event(name, opened, coordinator):
    batch, latest = before_step(name, opened, coordinator)
    with refused(ValidationError, match=f"before the latest event of batch {batch.code}") as info:
        take(name, batch, coordinator, latest - dt.timedelta(minutes=1))
    assert list(info.value.message_dict) == ["occurred_at"]


@pytest.mark.parametrize("name", list(BEFORE))
def test_each_step_refuses_a_time_in_the_future(name, opened, coordinator):
    batch, _latest = before_step(name, opened, coordinator)
    with refused(ValidationError, match="in the future") as info:
        take(name, batch, coordinator, timezone.now() + dt.timedelta(hours=1))
    assert list(info.value.message_dict) == ["occurred_at"]


def test_step_at_the_time_of_the_latest_event_is_allowed(opened, coordinator):
    batch, latest = before_step("submit", opened, coordinator)
    assert take("submit", batch, coordinator, latest).status == "submitted"


def test_step_within_the_clock_skew_is_recorded_as_now(opened, coordinator):
    since = mark()
    batch_prepare(
        batch=opened, actor=coordinator, occurred_at=timezone.now() + dt.timedelta(minutes=3)
    )
    event = the_event_since(since)
    assert event.occurred_at <= event.created_at


def test_step_without_a_time_occurred_when_recorded(opened, coordinator):
    since = mark()
    batch_prepare(batch=opened, actor=coordinator)
    event = the_event_since(since)
    assert event.occurred_at == event.created_at
    assert not event.recorded_late


def test_people_added_now_do_not_stop_a_step_recorded_late(opened, coordinator, ready_patient):
    """Adding people is recorded now (it is a draft's editing, not a fact of the road): a later
    step stated in the past still follows the batch's own events."""
    batch_add_patient(batch=opened, patient=ready_patient(), actor=coordinator)
    assert take("prepare", opened, coordinator, ago(11)).status == "prepared"


def test_cancel_keeps_cancelled_at_as_when_it_happened(opened, coordinator):
    batch, _latest = before_step("cancel", opened, coordinator)
    occurred = ago(1)
    batch = take("cancel", batch, coordinator, occurred)
    batch.refresh_from_db()
    assert batch.cancelled_at == occurred


# --- Clearance ------------------------------------------------------------------------------


@pytest.fixture
def submitted(opened, coordinator):
    batch, _latest = before_step("clear", opened, coordinator)  # submitted 10 hours ago
    return batch


def test_clearance_decision_keeps_when_it_was_decided(submitted, coordinator):
    line = submitted.members.filter(is_open=True).first()
    decided = ago(9)
    since = mark()
    line = batch_record_clearance(
        batch=submitted, member=line, clearance="rejected", actor=coordinator, occurred_at=decided
    )
    event = the_event_since(since)
    assert_event(event, action="clearance", to_state="rejected", occurred_at=decided)
    line.refresh_from_db()
    assert line.clearance_recorded_at == decided


def test_clearance_decision_refuses_a_time_before_the_submission(submitted, coordinator):
    line = submitted.members.filter(is_open=True).first()
    with refused(ValidationError, match="before the latest event") as info:
        batch_record_clearance(
            batch=submitted,
            member=line,
            clearance="approved",
            actor=coordinator,
            occurred_at=ago(10.5),
        )
    assert list(info.value.message_dict) == ["occurred_at"]


def test_clearance_decision_refuses_a_time_in_the_future(submitted, coordinator):
    line = submitted.members.filter(is_open=True).first()
    with refused(ValidationError, match="in the future"):
        batch_record_clearance(
            batch=submitted,
            member=line,
            clearance="approved",
            actor=coordinator,
            occurred_at=timezone.now() + dt.timedelta(days=1),
        )


def test_clearances_of_one_call_share_when_the_list_came_back(submitted, coordinator):
    decided = ago(9)
    since = mark()
    recorded = batch_record_clearances(
        batch=submitted,
        actor=coordinator,
        decisions=pending_decisions(submitted),
        occurred_at=decided,
    )
    assert len(recorded) == 2
    events = events_since(since)
    assert [e.action for e in events] == ["clearance", "clearance"]
    assert {e.occurred_at for e in events} == {decided}
    assert set(submitted.members.values_list("clearance_recorded_at", flat=True)) == {decided}


def test_clearances_of_one_call_refused_whole_for_a_time_before_the_submission(
    submitted, coordinator
):
    with refused(ValidationError, match="before the latest event") as info:
        batch_record_clearances(
            batch=submitted,
            actor=coordinator,
            decisions=pending_decisions(submitted),
            occurred_at=ago(11),
        )
    assert list(info.value.message_dict) == ["occurred_at"]


def test_clear_refuses_a_time_before_a_clearance_decision(submitted, coordinator):
    batch_record_clearances(
        batch=submitted,
        actor=coordinator,
        decisions=pending_decisions(submitted),
        occurred_at=ago(5),
    )
    with refused(ValidationError, match="before the latest event"):
        batch_clear(batch=submitted, actor=coordinator, occurred_at=ago(6))
    assert batch_clear(batch=submitted, actor=coordinator, occurred_at=ago(5)).status == "cleared"


# --- Vehicles -------------------------------------------------------------------------------


def test_vehicle_changes_keep_when_they_occurred(opened, coordinator):
    since = mark()
    vehicle = vehicle_add(
        batch=opened, actor=coordinator, kind="ambulance", seats=4, occurred_at=ago(11)
    )
    line = opened.members.filter(is_open=True).first()
    vehicle_assign(batch=opened, actor=coordinator, assignments={line.pk: 1}, occurred_at=ago(10))
    vehicle_remove(batch=opened, vehicle=vehicle, actor=coordinator, occurred_at=ago(9))
    events = events_since(since)
    assert [e.action for e in events] == ["vehicle_add", "vehicle_assign", "vehicle_remove"]
    assert [round((e.created_at - e.occurred_at) / dt.timedelta(hours=1)) for e in events] == [
        11,
        10,
        9,
    ]


def test_vehicle_changes_refuse_a_time_before_the_latest_event(opened, coordinator):
    vehicle = vehicle_add(
        batch=opened, actor=coordinator, kind="ambulance", seats=4, occurred_at=ago(10)
    )
    line = opened.members.filter(is_open=True).first()
    with refused(ValidationError, match="before the latest event"):
        vehicle_add(batch=opened, actor=coordinator, kind="bus", seats=20, occurred_at=ago(11))
    with refused(ValidationError, match="before the latest event"):
        vehicle_assign(
            batch=opened, actor=coordinator, assignments={line.pk: 1}, occurred_at=ago(11)
        )
    with refused(ValidationError, match="in the future"):
        vehicle_remove(
            batch=opened,
            vehicle=vehicle,
            actor=coordinator,
            occurred_at=timezone.now() + dt.timedelta(hours=2),
        )


# --- Reschedule -----------------------------------------------------------------------------


@pytest.fixture
def cancelled_yesterday(coordinator, facility, ready_patient):
    """Yesterday's draft, cancelled yesterday at 07:40 and recorded this morning."""
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    batch = batch_create(
        actor=coordinator,
        direction="exit",
        planned_date=yesterday,
        staging_facility=facility,
        occurred_at=local(yesterday, 6),
    )
    batch_add_patient(batch=batch, patient=ready_patient(), actor=coordinator)
    return batch_cancel(
        batch=batch, actor=coordinator, occurred_at=local(yesterday, 7, 40), **CANCEL
    )


def test_reschedule_to_the_cancelled_batchs_own_day(cancelled_yesterday, coordinator):
    day = cancelled_yesterday.planned_date
    since = mark()
    new = batch_reschedule(
        batch=cancelled_yesterday,
        actor=coordinator,
        planned_date=day,
        occurred_at=local(day, 8),
    )
    assert (new.planned_date, new.rescheduled_from) == (day, cancelled_yesterday)
    assert new.members.count() == 1
    [event] = [e for e in events_since(since) if e.subject_type == "batch"]
    assert_event(event, action="reschedule", subject_ref=new.code, occurred_at=local(day, 8))
    cancelled_yesterday.refresh_from_db()
    assert cancelled_yesterday.rescheduled_as == new


def test_reschedule_refuses_a_day_before_the_cancelled_batchs(cancelled_yesterday, coordinator):
    day = cancelled_yesterday.planned_date
    with refused(ValidationError, match="before") as info:
        batch_reschedule(
            batch=cancelled_yesterday, actor=coordinator, planned_date=day - dt.timedelta(days=1)
        )
    assert list(info.value.message_dict) == ["planned_date"]


def test_reschedule_refuses_a_time_before_the_cancellation(cancelled_yesterday, coordinator):
    day = cancelled_yesterday.planned_date
    with refused(ValidationError, match="before the latest event") as info:
        batch_reschedule(
            batch=cancelled_yesterday,
            actor=coordinator,
            planned_date=day,
            occurred_at=local(day, 7),
        )
    assert list(info.value.message_dict) == ["occurred_at"]


# --- Reports ---------------------------------------------------------------------------------


def test_cancellation_recorded_next_morning_is_on_its_own_day(
    cancelled_yesterday, auditor, coordinator, facility
):
    yesterday = cancelled_yesterday.planned_date
    today = timezone.localdate()
    # And today's batch, cancelled last evening: 6 hours of notice.
    tonight = batch_create(
        actor=coordinator,
        direction="exit",
        planned_date=today,
        staging_facility=facility,
        occurred_at=local(yesterday, 12),
    )
    batch_cancel(batch=tonight, actor=coordinator, occurred_at=local(yesterday, 18), **CANCEL)

    rows = {row.code: row for row in cancellations(auditor, period=Period(yesterday, yesterday))}
    assert set(rows) == {cancelled_yesterday.code, tonight.code}
    late = rows[cancelled_yesterday.code]
    assert late.cancelled_at == local(yesterday, 7, 40)
    assert late.lead_hours == pytest.approx(-7.7, abs=0.05)  # on the day, not days after it
    assert late.recorded_at > late.cancelled_at
    assert rows[tonight.code].lead_hours == pytest.approx(6.0, abs=1.0)  # a DST night: 5 or 7
    assert cancellations(auditor, period=Period(today, today)) == []


def test_cancellations_api_rows_carry_both_times(api, auditor, cancelled_yesterday):
    day = cancelled_yesterday.planned_date
    response = api(auditor).get(
        "/api/v1/reports/cancellations/", {"date_from": day, "date_to": day}
    )
    assert response.status_code == 200, response.content
    [row] = response.json()["results"]
    assert dt.datetime.fromisoformat(row["cancelled_at"]) == local(day, 7, 40)
    assert dt.datetime.fromisoformat(row["recorded_at"]) > local(day, 7, 40)


def test_timeline_shows_both_times_when_they_differ(client, auditor, cancelled_yesterday):
    client.force_login(auditor)
    response = client.get(reverse("reports:batch", args=[cancelled_yesterday.code]))
    page = response.content.decode()
    html = page[page.index("<tbody>") :]  # the timeline (the heading says when it was cancelled)
    day = cancelled_yesterday.planned_date
    cancel = Event.objects.get(subject_ref=cancelled_yesterday.code, action="cancel")
    occurred_at = html.index(shown(local(day, 7, 40)))
    recorded_at = html.index(shown(cancel.created_at), occurred_at)
    assert html.rindex("occurred", 0, occurred_at) < occurred_at < recorded_at
    assert "recorded" in html[occurred_at:recorded_at]
    # Only the events recorded late show two times: the creation and the cancellation, not
    # the people added this morning.
    assert html.count(">occurred<") + html.count("occurred <bdi") == 2


def test_batch_timeline_api_gives_both_times(api, auditor, cancelled_yesterday):
    response = api(auditor).get(f"/api/v1/reports/batches/{cancelled_yesterday.code}/timeline/")
    events = {e["action"]: e for e in response.json()["events"]}
    day = cancelled_yesterday.planned_date
    assert dt.datetime.fromisoformat(events["cancel"]["occurred_at"]) == local(day, 7, 40)
    assert events["cancel"]["created_at"] != events["cancel"]["occurred_at"]


# --- The API ------------------------------------------------------------------------------------


def _url(batch, action):
    return f"{BATCHES}{batch.code}/{action}/"


def test_api_create_takes_occurred_at(api, coordinator, facility):
    opened_at = ago(20)
    response = api(coordinator).post(
        BATCHES,
        {
            "direction": "exit",
            "planned_date": timezone.localdate().isoformat(),
            "staging_facility": facility.code,
            "occurred_at": opened_at.isoformat(),
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert "occurred_at" not in response.json()
    code = response.json()["code"]
    assert Event.objects.get(subject_ref=code, action="create").occurred_at == opened_at


@pytest.mark.parametrize("name", ["prepare", "submit", "clear", "depart", "cancel"])
def test_api_steps_take_occurred_at(name, api, opened, coordinator):
    batch, _latest = before_step(name, opened, coordinator)
    if name == "clear":
        batch_record_clearances(
            batch=batch, actor=coordinator, decisions=pending_decisions(batch), occurred_at=ago(3)
        )
    occurred = ago(2)
    body = {"occurred_at": occurred.isoformat(), **(CANCEL if name == "cancel" else {})}
    since = mark()
    response = api(coordinator).post(_url(batch, name), body, format="json")
    assert response.status_code == 200, response.content
    [event] = [e for e in events_since(since) if e.subject_type == "batch"]
    assert (event.action, event.occurred_at) == (name, occurred)


def test_api_step_without_a_body_still_happens_now(api, opened, coordinator):
    response = api(coordinator).post(_url(opened, "prepare"))
    assert response.status_code == 200, response.content


def test_api_cross_takes_occurred_at_in_gaza_time(api, opened, coordinator):
    batch, _latest = before_step("cross", opened, coordinator)
    outcomes = [{"member": line.pk, "outcome": "crossed"} for line in batch.members.all()]
    crossed = timezone.localtime(ago(1)).replace(second=0, microsecond=0, tzinfo=None)
    since = mark()
    response = api(coordinator).post(
        _url(batch, "cross"),
        {"outcomes": outcomes, "occurred_at": crossed.isoformat()},  # no offset: Gaza time
        format="json",
    )
    assert response.status_code == 200, response.content
    [event] = [e for e in events_since(since) if e.subject_type == "batch"]
    assert event.occurred_at == timezone.make_aware(crossed)


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (lambda latest: latest - dt.timedelta(minutes=5), "before the latest event"),
        (lambda latest: timezone.now() + dt.timedelta(hours=3), "in the future"),
    ],
)
def test_api_step_refuses_a_bad_time_naming_the_field(when, message, api, opened, coordinator):
    batch, latest = before_step("cancel", opened, coordinator)
    before = world()
    response = api(coordinator).post(
        _url(batch, "cancel"), {**CANCEL, "occurred_at": when(latest).isoformat()}, format="json"
    )
    assert response.status_code == 400, response.content
    assert list(response.json()) == ["occurred_at"]
    assert message in response.json()["occurred_at"][0]
    assert world() == before


def test_api_clearance_takes_occurred_at(api, submitted, coordinator):
    line = submitted.members.filter(is_open=True).first()
    decided = ago(9)
    response = api(coordinator).post(
        f"{_url(submitted, 'members')}{line.pk}/clearance/",
        {"clearance": "approved", "occurred_at": decided.isoformat()},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert dt.datetime.fromisoformat(response.json()["clearance_recorded_at"]) == decided


def test_api_reschedule_to_the_cancelled_batchs_own_day(api, cancelled_yesterday, coordinator):
    day = cancelled_yesterday.planned_date
    response = api(coordinator).post(
        _url(cancelled_yesterday, "reschedule"), {"planned_date": day.isoformat()}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["rescheduled_from"] == cancelled_yesterday.code
    assert response.json()["planned_date"] == day.isoformat()


def test_schema_documents_occurred_at_on_every_step(client, coordinator):
    client.force_login(coordinator)
    schema = client.get("/api/schema/", {"format": "json"}).json()
    paths, components = schema["paths"], schema["components"]["schemas"]

    def body(path):
        content = paths[path]["post"]["requestBody"]["content"]["application/json"]
        return components[content["schema"]["$ref"].rsplit("/", 1)[1]]

    for name in ("prepare", "reopen", "submit", "clear", "depart", "cross", "cancel", "reschedule"):
        fields = body(f"/api/v1/batches/{{code}}/{name}/")["properties"]
        assert fields["occurred_at"]["format"] == "date-time", name
        assert "in the future" in fields["occurred_at"]["description"], name
    clearance = body("/api/v1/batches/{code}/members/{member_id}/clearance/")
    assert "occurred_at" in clearance["properties"]
    assert "occurred_at" not in clearance.get("required", [])
    created = body("/api/v1/batches/")
    assert "occurred_at" in created["properties"]
    assert "occurred_at" not in components["Batch"]["properties"]  # write-only: not answered


# --- The pages ------------------------------------------------------------------------------


def _step_page(client, user, batch, name):
    client.force_login(user)
    return client.get(reverse("batches:transition", args=[batch.code, name]))


def _typed(moment: dt.datetime) -> str:
    """What a datetime-local input holds: local time to the minute."""
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def test_cancel_form_records_when_it_happened(client, coordinator, opened):
    form = read_form(_step_page(client, coordinator, opened, "cancel"), "#step")
    assert form.value("occurred_at") == ""
    when = ago(3).replace(second=0, microsecond=0)
    form.fill(
        reason_code="security",
        source="who",
        relayed_by="directly",
        reason_text="Road closed",
        occurred_at=_typed(when),
    )
    assert form.submit(client).status_code == 302
    opened.refresh_from_db()
    assert (opened.status, opened.cancelled_at) == ("cancelled", when)


def test_cancel_form_left_blank_happens_now(client, coordinator, opened):
    form = read_form(_step_page(client, coordinator, opened, "cancel"), "#step")
    form.fill(
        reason_code="security", source="who", relayed_by="directly", reason_text="Road closed"
    )
    before = timezone.now()
    assert form.submit(client).status_code == 302
    opened.refresh_from_db()
    assert opened.cancelled_at >= before


@pytest.mark.parametrize(
    ("when", "message"),
    [(lambda: ago(13), "before the latest event"), (lambda: ago(-2), "in the future")],
)
def test_cancel_form_bad_time_shown_beside_the_field(when, message, client, coordinator, opened):
    form = read_form(_step_page(client, coordinator, opened, "cancel"), "#step")
    form.fill(
        reason_code="security",
        source="who",
        relayed_by="directly",
        reason_text="Road closed",
        occurred_at=_typed(when()),
    )
    before = opened.status
    response = form.submit(client)
    assert response.status_code in (200, 409)
    opened.refresh_from_db()
    assert opened.status == before
    html = response.content.decode()
    field = html.index('name="occurred_at"')
    assert message in html[field:]


def test_cross_form_records_when_it_crossed(client, coordinator, opened):
    batch, _latest = before_step("cross", opened, coordinator)
    form = read_form(_step_page(client, coordinator, batch, "cross"), "#cross")
    for line in batch.members.filter(is_open=True):
        form.fill(**{f"line_{line.pk}": "crossed"})
    when = ago(2).replace(second=0, microsecond=0)
    form.fill(occurred_at=_typed(when))
    since = mark()
    assert form.submit(client).status_code == 302
    [event] = [e for e in events_since(since) if e.subject_type == "batch"]
    assert (event.action, event.occurred_at) == ("cross", when)


def test_everyone_crossed_form_records_when_it_crossed(client, coordinator, opened):
    batch, _latest = before_step("cross", opened, coordinator)
    page = _step_page(client, coordinator, batch, "cross")
    html = page.content.decode()
    assert html.count('id="id_occurred_at"') == 1 and html.count('id="id_all_occurred_at"') == 1
    form = read_form(page, "#all-crossed")
    when = ago(2).replace(second=0, microsecond=0)
    form.fill(confirm=True, occurred_at=_typed(when))
    since = mark()
    assert form.submit(client, button="all_crossed").status_code == 302
    [event] = [e for e in events_since(since) if e.subject_type == "batch"]
    assert (event.action, event.occurred_at) == ("cross", when)


def test_everyone_crossed_form_refuses_a_time_before_the_departure(client, coordinator, opened):
    batch, latest = before_step("cross", opened, coordinator)
    form = read_form(_step_page(client, coordinator, batch, "cross"), "#all-crossed")
    form.fill(confirm=True, occurred_at=_typed(latest - dt.timedelta(hours=1)))
    response = form.submit(client, button="all_crossed")
    assert response.status_code in (200, 409)
    batch.refresh_from_db()
    assert batch.status == "in_transit"
    assert "before the latest event" in response.content.decode()


def test_reschedule_form_offers_the_cancelled_batchs_own_day(
    client, coordinator, cancelled_yesterday
):
    page = _step_page(client, coordinator, cancelled_yesterday, "reschedule")
    day = cancelled_yesterday.planned_date
    assert f'min="{day.isoformat()}"' in page.content.decode()
    form = read_form(page, "#step")
    form.fill(planned_date=day.isoformat())
    assert form.submit(client).status_code == 302
    assert Batch.objects.get(rescheduled_from=cancelled_yesterday).planned_date == day
