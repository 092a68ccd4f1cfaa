"""Appending to the audit log. Called inside the caller's transaction."""

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils.translation import gettext as _

from casetracker.accounts.roles import user_role
from casetracker.crypto import audit_text_digest

from .context import current
from .models import (
    TEXT_MAX_LENGTH,
    AccessLane,
    Action,
    ChainHead,
    Event,
    EventText,
    SubjectType,
)

HASHED_FIELDS = (
    "created_at",
    "subject_type",
    "subject_ref",
    "batch_ref",
    "action",
    "from_state",
    "to_state",
    "actor_id",
    "actor_role",
    "actor_facility_id",
    "subject_facility_id",
    "reason_code",
    "reason_text",
    "source",
    "channel",
    "request_id",
    "details",
    "prev_hash",
)


def event_hash(event: Event) -> str:
    payload = {name: getattr(event, name) for name in HASHED_FIELDS if name != "reason_text"}
    payload["created_at"] = event.created_at.isoformat()
    # The text inside the chained row, under the key it always had: the events recorded before
    # texts were kept apart hold theirs there; the newer ones hold "" there and chain the keyed
    # hash of their text instead (`text_digest`, only when there is a text: an event without
    # one keeps the payload it would have had, and an old event's payload is unchanged).
    payload["reason_text"] = event.chained_text
    # A read in an access lane chains its lane and place; the events of the main chain keep
    # the payload they always had.
    if event.lane is not None:
        payload["lane"], payload["lane_seq"] = event.lane, event.lane_seq
    if event.text_digest:
        payload["text_digest"] = event.text_digest
    # Both times are chained. `occurred_at` joins the payload only when it is set: the events
    # recorded before it existed have it NULL and keep the payload (and hash) they were chained
    # with, so the whole log still verifies; every event recorded since has it set, so changing
    # it, or clearing it, changes the hash. (A version number in the payload would say the same
    # with one more field; the key's presence is the version.)
    if event.occurred_at is not None:
        # In UTC, as the database gives it back: a time stated in Gaza time hashes the same.
        payload["occurred_at"] = event.occurred_at.astimezone(UTC).isoformat()
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def record_event(
    *,
    subject_type: SubjectType,
    subject_ref: str,
    action: Action,
    actor,
    from_state: str = "",
    to_state: str = "",
    batch_ref: str = "",
    subject_facility_id: int | None = None,
    reason_code: str = "",
    reason_text: str = "",
    source: str = "",
    details: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> Event:
    """Append one event, chained to the previous one. Must run inside the caller's transaction,
    so the event exists if and only if the change it records was committed.

    `occurred_at` is when it happened, already checked by the service
    (`casetracker.audit.occurred.checked_occurred_at`); None: it happened as it is recorded.

    `reason_text`, the free text of the event (why, what was said, a note), is not written into
    the chained row: it is kept beside the event (`EventText`), where an admin can redact it,
    and the chain holds its keyed hash (`Event.text_digest`). `event.reason_text` reads it."""
    (event,) = record_events(
        [
            {
                "subject_type": subject_type,
                "subject_ref": subject_ref,
                "action": action,
                "actor": actor,
                "from_state": from_state,
                "to_state": to_state,
                "batch_ref": batch_ref,
                "subject_facility_id": subject_facility_id,
                "reason_code": reason_code,
                "reason_text": reason_text,
                "source": source,
                "details": details,
                "occurred_at": occurred_at,
            }
        ]
    )
    return event


# Events inserted by one statement: far below PostgreSQL's 65,535 parameters (about 20 each).
EVENTS_PER_INSERT = 1000


def record_events(events: Iterable[dict[str, Any]]) -> list[Event]:
    """Append several events in their order, each chained to the one before: what
    `record_event` does once per event (each dict holds its keyword arguments), with the chain
    head locked and moved once and the rows inserted together. For a service writing many rows
    at once (an import); the events are the very ones `record_event` would have written."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record_event must run inside the transaction of the change")
    events = list(events)
    for fields in events:
        _refuse_long_text(fields.get("reason_text", ""))
    if not events:
        return []
    head, _created = ChainHead.objects.select_for_update().get_or_create(pk=1)
    built, texts = [], []
    prev_hash = head.last_hash
    for fields in events:
        fields = dict(fields)
        reason_text = fields.pop("reason_text", "")
        occurred_at = fields.pop("occurred_at", None)
        event = _new_event(
            **{name: fields.pop(name, "") for name in _TEXT_FIELDS},
            subject_facility_id=fields.pop("subject_facility_id", None),
            details=fields.pop("details", None),
            prev_hash=prev_hash,
            **fields,
        )
        if reason_text:
            # Salted with the link to the previous event: the same text twice, two digests.
            event.text_digest = audit_text_digest(reason_text, salt=event.prev_hash)
            texts.append((event, reason_text))
        event.occurred_at = occurred_at or event.created_at
        event.hash = prev_hash = event_hash(event)
        built.append(event)
    Event.objects.bulk_create(built, batch_size=EVENTS_PER_INSERT)
    if texts:
        EventText.objects.bulk_create(
            [EventText(event=event, text=text) for event, text in texts],
            batch_size=EVENTS_PER_INSERT,
        )
    head.last_hash = prev_hash
    head.save(update_fields=["last_hash"])
    return built


# The text fields of `_new_event` an event may leave out (blank).
_TEXT_FIELDS = ("batch_ref", "from_state", "to_state", "reason_code", "source")


def _refuse_long_text(reason_text: str) -> None:
    # Every free text a service records passes here: refuse it whole, naming the field, and the
    # caller's transaction rolls the change back with it.
    if len(reason_text) > TEXT_MAX_LENGTH:
        raise ValidationError(
            {
                "reason_text": _("at most %(limit)d characters, not %(length)d")
                % {"limit": TEXT_MAX_LENGTH, "length": len(reason_text)}
            }
        )


def record_access(
    *,
    subject_type: SubjectType,
    subject_ref: str,
    action: Action,
    actor,
    batch_ref: str = "",
    subject_facility_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> Event:
    """Append one read of personal data to the access log, in an access lane no other read
    holds (`AccessLane`): concurrent readers do not wait for each other, nor for the changes
    being recorded in the main chain. In a transaction of its own, or the caller's: the read is
    recorded if and only if the caller's transaction commits."""
    with transaction.atomic():
        lane = _free_lane()
        event = _new_event(
            subject_type=subject_type,
            subject_ref=subject_ref,
            batch_ref=batch_ref,
            action=action,
            actor=actor,
            subject_facility_id=subject_facility_id,
            details=details,
            prev_hash=lane.last_hash,
        )
        event.lane, event.lane_seq = lane.pk, lane.seq + 1
        event.occurred_at = event.created_at
        event.hash = event_hash(event)
        event.save()
        lane.seq, lane.last_hash = event.lane_seq, event.hash
        lane.save(update_fields=["seq", "last_hash"])
    return event


def _free_lane() -> AccessLane:
    """An access lane, locked until the transaction ends: one no one else holds, picked at
    random so the lanes fill evenly; when every lane is held, waits for one. (SQLite locks the
    whole database for a write and ignores the row locks: any lane there.)"""
    lanes = AccessLane.objects.order_by("?")
    lane = lanes.select_for_update(skip_locked=True).first()
    if lane is None:
        # Every lane held, or none opened yet (a database emptied since its migration).
        add_access_lanes(settings.AUDIT_ACCESS_LANES)
        lane = lanes.select_for_update().first()
    return lane


def _new_event(
    *,
    subject_type: SubjectType,
    subject_ref: str,
    batch_ref: str,
    action: Action,
    actor,
    subject_facility_id: int | None,
    details: dict[str, Any] | None,
    prev_hash: str,
    from_state: str = "",
    to_state: str = "",
    reason_code: str = "",
    source: str = "",
) -> Event:
    ctx = current()
    return Event(
        subject_type=subject_type,
        subject_ref=subject_ref,
        batch_ref=batch_ref,
        action=action,
        from_state=from_state,
        to_state=to_state,
        actor=actor if actor is not None and actor.pk else None,
        actor_role=user_role(actor).value if actor is not None else "system",
        actor_facility_id=getattr(actor, "facility_id", None),
        subject_facility_id=subject_facility_id,
        reason_code=reason_code,
        source=source,
        channel=ctx.channel,
        request_id=ctx.request_id,
        details=details or {},
        prev_hash=prev_hash,
    )


def add_access_lanes(
    count: int, *, model: type[AccessLane] = AccessLane, using: str = DEFAULT_DB_ALIAS
) -> None:
    """Lanes 1..count exist (never fewer than there are: a lane holds reads). `model` may be
    the migration state's (after `migrate`)."""
    model.objects.using(using).bulk_create(
        [model(pk=number) for number in range(1, count + 1)], ignore_conflicts=True
    )


def seal_access_lanes() -> Event | None:
    """Record the head of every access lane (its count and last hash) in the main chain, if
    any lane moved since the last seal. A lane's reads up to a sealed head are then held by the
    main chain too: removing the newest of them, and setting the lane's head back to match,
    no longer goes unnoticed."""
    with transaction.atomic():
        # Taken first, so two sealers one after the other do not both seal the same heads.
        ChainHead.objects.select_for_update().get_or_create(pk=1)
        heads = {
            str(lane.pk): [lane.seq, lane.last_hash]
            for lane in AccessLane.objects.filter(seq__gt=0).order_by("pk")
        }
        last = Event.objects.filter(action=Action.SEAL, lane__isnull=True).order_by("-pk").first()
        if not heads or (last is not None and last.details.get("lanes") == heads):
            return None
        return record_event(
            subject_type=SubjectType.AUDIT_LOG,
            subject_ref="access",
            action=Action.SEAL,
            actor=None,
            details={"lanes": heads},
        )
