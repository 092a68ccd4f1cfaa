"""Helpers for the service-layer tests: what a service call changed in the database, and moving a
batch along its lifecycle through the services (later states are never written directly)."""

import contextlib
import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pytest
from django.db import transaction

from batches.models import Batch, BatchMember
from batches.services import (
    batch_cancel,
    batch_clear,
    batch_cross,
    batch_depart,
    batch_prepare,
    batch_record_clearance,
    batch_submit,
)
from casetracker.audit.models import Event
from casetracker.audit.services import record_event
from casetracker.errors import TransitionRefused
from casetracker.notifications.models import Notification
from casetracker.notifications.services import notify
from patients.models import Companion, Patient, Readiness, ReadinessChange, Referral, Returnee

# --- What changed ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Mark:
    """The last event and notification ids before a service call."""

    event_id: int
    notification_id: int


def mark() -> Mark:
    last_event = Event.objects.order_by("-pk").values_list("pk", flat=True).first()
    last_note = Notification.objects.order_by("-pk").values_list("pk", flat=True).first()
    return Mark(last_event or 0, last_note or 0)


def events_since(since: Mark) -> list[Event]:
    return list(Event.objects.filter(pk__gt=since.event_id).order_by("pk"))


def the_event_since(since: Mark) -> Event:
    """The one event written since `since` (every transition writes exactly one)."""
    events = events_since(since)
    assert len(events) == 1, [str(e) for e in events]
    return events[0]


def notifications_since(since: Mark) -> list[Notification]:
    return list(Notification.objects.filter(pk__gt=since.notification_id).order_by("pk"))


def assert_event(event: Event, **expected) -> None:
    """Compare the named fields at once, so a failure shows every difference."""
    assert {name: getattr(event, name) for name in expected} == expected


def expected_rows(users: Iterable) -> list[tuple]:
    rows = []
    for user in users:
        rows.append((user.pk, "inbox", "", user.preferred_language, "pending"))
        if user.email:
            rows.append((user.pk, "email", user.email, user.preferred_language, "pending"))
    return sorted(rows)


def assert_notified(event: Event, users: Iterable, since: Mark) -> None:
    """The event's outbox rows are exactly an inbox row per user and an email row per user with
    an address, in their language, pending; and no other notification was written."""
    rows = sorted(
        (n.recipient_id, n.channel, n.address, n.language, n.status)
        for n in Notification.objects.filter(event=event)
    )
    assert rows == expected_rows(users)
    assert {n.event_id for n in notifications_since(since)} == {event.pk}
    assert all(
        n.idempotency_key == f"event-{event.pk}-{n.channel}-user-{n.recipient_id}"
        for n in Notification.objects.filter(event=event)
    )


def world() -> dict:
    """Every row a service could change, in a comparable form."""
    return {
        "events": list(Event.objects.order_by("pk").values_list("pk", flat=True)),
        "notifications": list(Notification.objects.order_by("pk").values_list("pk", flat=True)),
        "batches": list(
            Batch.objects.order_by("pk").values_list(
                "pk", "code", "status", "cancel_reason_code", "rescheduled_from_id"
            )
        ),
        "members": list(
            BatchMember.objects.order_by("pk").values_list(
                "pk",
                "batch_id",
                "patient_id",
                "companion_id",
                "returnee_id",
                "is_open",
                "end_reason",
                "clearance",
                "clearance_note",
                "outcome",
            )
        ),
        "patients": list(
            Patient.objects.order_by("pk").values_list(
                "pk", "status", "registered_at", "priority", "phone"
            )
        ),
        "companions": list(
            Companion.objects.order_by("pk").values_list("pk", "patient_id", "is_guardian")
        ),
        "referrals": list(Referral.objects.order_by("pk").values_list("pk", "status")),
        "readiness": list(
            Readiness.objects.order_by("pk").values_list(
                "pk", "fit_to_travel", "documents_ready", "companions_present", "note"
            )
        ),
        "readiness_history": ReadinessChange.objects.count(),
        "returnees": list(
            Returnee.objects.order_by("pk").values_list("pk", "status", "registered_at")
        ),
    }


@contextlib.contextmanager
def refused(exc_type=TransitionRefused, match: str | None = None) -> Iterator:
    """The block raises `exc_type` (message matching `match`) and changes nothing at all."""
    before = world()
    with pytest.raises(exc_type, match=match) as info:
        yield info
    assert world() == before


# --- Dates ----------------------------------------------------------------------------------

# A registration time in the past: a patient's place in the queue, which must never move.
REGISTERED = dt.datetime(2025, 3, 1, 8, 30, tzinfo=dt.UTC)


def born(years_before: int, on: dt.date, *, days: int = 0) -> dt.date:
    """The date `years_before` years before `on` (28 February for a 29th), shifted by `days`."""
    try:
        day = on.replace(year=on.year - years_before)
    except ValueError:
        day = on.replace(year=on.year - years_before, day=28)
    return day + dt.timedelta(days=days)


# --- Driving a batch ------------------------------------------------------------------------

PATH = ["draft", "prepared", "submitted", "cleared", "in_transit", "crossed"]


def approve_all(batch: Batch, actor) -> None:
    for line in batch.members.filter(is_open=True, clearance="pending"):
        batch_record_clearance(batch=batch, member=line, clearance="approved", actor=actor)


def advance(batch: Batch, to: str, actor) -> Batch:
    """Move `batch` to `to` through the services: everyone cleared, everyone crosses."""
    batch.refresh_from_db()
    if to == "cancelled":
        return batch_cancel(
            batch=batch,
            actor=actor,
            reason_code="security",
            reason_text="crossing closed",
            source="border_authority",
        )
    assert PATH.index(to) >= PATH.index(batch.status), (batch.status, to)
    while batch.status != to:
        if batch.status == "draft":
            batch = batch_prepare(batch=batch, actor=actor)
        elif batch.status == "prepared":
            batch = batch_submit(batch=batch, actor=actor)
        elif batch.status == "submitted":
            approve_all(batch, actor)
            batch = batch_clear(batch=batch, actor=actor)
        elif batch.status == "cleared":
            batch = batch_depart(batch=batch, actor=actor)
        else:
            outcomes = {line.pk: "crossed" for line in batch.members.filter(is_open=True)}
            batch = batch_cross(batch=batch, actor=actor, outcomes=outcomes)
    return batch


def notify_event(users, action: str = "cancel", batch_ref: str = "RAF-2026-02-04-3"):
    """An event and its outbox rows, as a batch service writes them (pending: not delivered
    until the test commits)."""
    with transaction.atomic():
        event = record_event(
            subject_type="batch",
            subject_ref=batch_ref,
            batch_ref=batch_ref,
            action=action,
            actor=None,
        )
        return notify(event=event, users=users)


def inbox_row(user, rows):
    return next(n for n in rows if n.recipient_id == user.pk and n.channel == "inbox")
