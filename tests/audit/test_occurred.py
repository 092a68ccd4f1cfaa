"""Events keep when a fact occurred beside when it was recorded, both in the hash chain; events
recorded before the two were kept apart still verify."""

import datetime as dt
import hashlib
import io
import json
import zoneinfo

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from casetracker.audit.models import ChainHead, Event
from casetracker.audit.occurred import CLOCK_SKEW, checked_occurred_at
from casetracker.audit.services import HASHED_FIELDS, event_hash, record_event
from casetracker.audit.verify import verify_chain

pytestmark = pytest.mark.django_db

GAZA = zoneinfo.ZoneInfo("Asia/Gaza")
EVENTS = "/api/v1/events/"


def _event(actor=None, **fields) -> Event:
    fields.setdefault("subject_type", "batch")
    fields.setdefault("subject_ref", "RAF-2026-02-06-3")
    fields.setdefault("action", "cancel")
    with transaction.atomic():
        return record_event(actor=actor, **fields)


def _legacy_hash(event: Event) -> str:
    """`event_hash` as it was before `occurred_at` existed (a copy, so a change to the payload
    of old events cannot go unnoticed)."""
    payload = {name: getattr(event, name) for name in HASHED_FIELDS}
    payload["created_at"] = event.created_at.isoformat()
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _legacy_event(subject_ref: str, created_at: dt.datetime) -> Event:
    """An event as the log held it before this change: no `occurred_at`, the old hash."""
    with transaction.atomic():
        head, _created = ChainHead.objects.select_for_update().get_or_create(pk=1)
        event = Event(
            created_at=created_at,
            subject_type="patient",
            subject_ref=subject_ref,
            action="register",
            to_state="waiting",
            actor_role="system",
            channel="command",
            prev_hash=head.last_hash,
        )
        event.hash = _legacy_hash(event)
        event.save()
        head.last_hash = event.hash
        head.save(update_fields=["last_hash"])
    return event


def _raw(sql: str, params: list) -> None:
    """Behind the application's back (on PostgreSQL with the append-only trigger off, rolled
    back with the test)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only")
        cursor.execute(sql, params)


def _verify() -> str:
    out = io.StringIO()
    call_command("verify_audit_log", stdout=out)
    return out.getvalue()


# --- Both times -------------------------------------------------------------------------------


def test_record_event_keeps_when_it_occurred_and_when_it_was_recorded(coordinator):
    occurred = timezone.now() - dt.timedelta(hours=26)
    event = _event(coordinator, occurred_at=occurred)
    stored = Event.objects.get(pk=event.pk)
    assert stored.occurred_at == occurred
    assert stored.created_at - occurred >= dt.timedelta(hours=26)
    assert (stored.occurred, stored.recorded_late) == (occurred, True)


def test_record_event_occurred_defaults_to_the_recorded_time(coordinator):
    event = Event.objects.get(pk=_event(coordinator).pk)
    assert event.occurred_at == event.created_at
    assert (event.occurred, event.recorded_late) == (event.created_at, False)


def test_event_recorded_before_occurred_at_existed_occurred_when_recorded():
    created = timezone.now() - dt.timedelta(days=300)
    event = Event.objects.get(pk=_legacy_event("EV-OLD001", created).pk)
    assert event.occurred_at is None
    assert (event.occurred, event.recorded_late) == (created, False)


# --- The hash -----------------------------------------------------------------------------------


def test_event_hash_covers_occurred_at(coordinator):
    event = _event(coordinator, occurred_at=timezone.now() - dt.timedelta(hours=3))
    moved = Event.objects.get(pk=event.pk)
    moved.occurred_at -= dt.timedelta(minutes=1)
    assert event_hash(moved) != event.hash
    moved.occurred_at = None
    assert event_hash(moved) != event.hash


def test_event_hash_of_a_time_stated_in_gaza_time_is_the_hash_read_back(coordinator):
    stated = dt.datetime(2026, 2, 6, 7, 40, tzinfo=GAZA)
    event = _event(coordinator, occurred_at=stated)
    stored = Event.objects.get(pk=event.pk)
    assert stored.occurred_at == stated
    assert event_hash(stored) == event.hash
    assert verify_chain().ok


def test_event_hash_of_events_recorded_before_is_unchanged(coordinator):
    old = _legacy_event("EV-OLD001", timezone.now() - dt.timedelta(days=2))
    assert event_hash(Event.objects.get(pk=old.pk)) == _legacy_hash(old) == old.hash


def test_verify_audit_log_proves_a_chain_of_old_and_new_events(coordinator):
    _legacy_event("EV-OLD001", timezone.now() - dt.timedelta(days=2))
    _legacy_event("EV-OLD002", timezone.now() - dt.timedelta(days=1))
    _event(coordinator, occurred_at=timezone.now() - dt.timedelta(hours=5))
    _event(coordinator)
    assert "Audit log intact: 4 events." in _verify()


def test_verify_audit_log_finds_an_altered_occurred_at(coordinator):
    _legacy_event("EV-OLD001", timezone.now() - dt.timedelta(days=2))
    new = _event(coordinator, occurred_at=timezone.now() - dt.timedelta(hours=5))
    _event(coordinator)
    # The cancellation moved back a day, to make the notice look longer.
    _raw(
        "UPDATE audit_event SET occurred_at = %s WHERE id = %s",
        [new.occurred_at - dt.timedelta(days=1), new.pk],
    )
    with pytest.raises(CommandError, match=f"broken at event {new.pk}: content differs"):
        _verify()


def test_verify_audit_log_finds_an_occurred_at_cleared(coordinator):
    new = _event(coordinator, occurred_at=timezone.now() - dt.timedelta(hours=5))
    _raw("UPDATE audit_event SET occurred_at = NULL WHERE id = %s", [new.pk])
    with pytest.raises(CommandError, match=f"broken at event {new.pk}: content differs"):
        _verify()


def test_verify_audit_log_finds_an_occurred_at_given_to_an_old_event(coordinator):
    old = _legacy_event("EV-OLD001", timezone.now() - dt.timedelta(days=2))
    _event(coordinator)
    _raw(
        "UPDATE audit_event SET occurred_at = %s WHERE id = %s",
        [old.created_at - dt.timedelta(days=3), old.pk],
    )
    with pytest.raises(CommandError, match=f"broken at event {old.pk}: content differs"):
        _verify()


# --- The check every service makes ----------------------------------------------------------


def test_checked_occurred_at_accepts_a_past_time_and_none():
    past = timezone.now() - dt.timedelta(days=3)
    assert checked_occurred_at(past) == past
    assert checked_occurred_at(None) is None
    assert checked_occurred_at(None, follows=timezone.now()) is None


def test_checked_occurred_at_takes_a_time_within_the_clock_skew_as_now():
    before = timezone.now()
    ahead = before + CLOCK_SKEW - dt.timedelta(seconds=30)
    taken = checked_occurred_at(ahead)
    assert before <= taken <= timezone.now()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (lambda: timezone.now() + CLOCK_SKEW + dt.timedelta(minutes=1), "in the future"),
        (lambda: timezone.now() + dt.timedelta(days=1), "in the future"),
        (lambda: dt.datetime(2026, 2, 6, 7, 40), "time zone"),
        (lambda: dt.date(2026, 2, 6), "a date and time"),
        (lambda: "2026-02-06T07:40", "a date and time"),
    ],
)
def test_checked_occurred_at_refuses_naming_the_field(value, message):
    with pytest.raises(ValidationError) as info:
        checked_occurred_at(value())
    assert list(info.value.message_dict) == ["occurred_at"]
    assert message in info.value.message_dict["occurred_at"][0]


def test_checked_occurred_at_refuses_a_time_before_what_it_follows():
    follows = dt.datetime(2026, 2, 6, 7, 40, tzinfo=GAZA)
    assert checked_occurred_at(follows, follows=follows) == follows
    with pytest.raises(ValidationError) as info:
        checked_occurred_at(
            follows - dt.timedelta(minutes=1), follows=follows, follows_what="the registration"
        )
    assert info.value.message_dict == {
        "occurred_at": ["2026-02-06 07:39 is before the registration (2026-02-06 07:40)"]
    }


# --- The API ------------------------------------------------------------------------------------


def test_events_api_gives_both_times(api, auditor, coordinator):
    occurred = dt.datetime(2026, 2, 6, 7, 40, tzinfo=GAZA)
    late = _event(coordinator, occurred_at=occurred)
    old = _legacy_event("EV-OLD001", timezone.now() - dt.timedelta(days=2))
    rows = {row["id"]: row for row in api(auditor).get(EVENTS).json()["results"]}
    assert dt.datetime.fromisoformat(rows[late.pk]["occurred_at"]) == occurred
    assert dt.datetime.fromisoformat(rows[late.pk]["created_at"]) == late.created_at
    # An event from before: it occurred when it was recorded.
    assert rows[old.pk]["occurred_at"] == rows[old.pk]["created_at"]


def test_events_api_date_filters_read_when_it_occurred(api, auditor, coordinator):
    today = timezone.localdate()
    days_ago = timezone.make_aware(
        dt.datetime.combine(today - dt.timedelta(days=3), dt.time(12, 0))
    )
    late = _event(coordinator, occurred_at=days_ago)
    live = _event(coordinator)
    old = _legacy_event("EV-OLD001", days_ago - dt.timedelta(days=1))
    client = api(auditor)

    def ids(**params):
        response = client.get(EVENTS, params)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    three_days_ago = (today - dt.timedelta(days=3)).isoformat()
    assert ids(date_from=three_days_ago, date_to=three_days_ago) == {late.pk}
    assert ids(date_from=today.isoformat()) == {live.pk}
    assert ids(date_to=(today - dt.timedelta(days=4)).isoformat()) == {old.pk}
    # When it was recorded: today, for the late one too.
    assert ids(recorded_from=today.isoformat()) == {late.pk, live.pk}
    assert ids(recorded_to=three_days_ago) == {old.pk}


def test_events_api_date_filters_are_ranges_the_indexes_serve(api, auditor, coordinator):
    """A local day is a range of the datetime columns (their indexes serve it), never the
    column cast to a date row by row; the day's first and last moments are in it."""
    day = timezone.localdate() - dt.timedelta(days=2)
    midnight = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    next_midnight = timezone.make_aware(
        dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min)
    )
    tick = dt.timedelta(microseconds=1)
    _event(coordinator, occurred_at=midnight - tick)
    first = _event(coordinator, occurred_at=midnight)
    last = _event(coordinator, occurred_at=next_midnight - tick)
    _event(coordinator, occurred_at=next_midnight)
    params = {"date_from": day.isoformat(), "date_to": day.isoformat()}
    params |= {"recorded_from": timezone.localdate().isoformat()}
    params |= {"recorded_to": timezone.localdate().isoformat()}
    with CaptureQueriesContext(connection) as queries:
        response = api(auditor).get(EVENTS, params)
    assert {row["id"] for row in response.json()["results"]} == {first.pk, last.pk}
    [sql] = [q["sql"] for q in queries if 'FROM "audit_event"' in q["sql"]]
    assert '"audit_event"."occurred_at" >=' in sql and '"audit_event"."created_at" <' in sql
    assert "cast_date" not in sql and "::date" not in sql  # SQLite's and PostgreSQL's casts
