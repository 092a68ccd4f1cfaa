"""Appending to the audit log. Called inside the caller's transaction."""

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from casetracker.accounts.roles import user_role
from casetracker.crypto import audit_text_digest

from .context import current
from .models import TEXT_MAX_LENGTH, Action, ChainHead, Event, EventText, SubjectType

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
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record_event must run inside the transaction of the change")
    # Every free text a service records passes here: refuse it whole, naming the field, and the
    # caller's transaction rolls the change back with it.
    if len(reason_text) > TEXT_MAX_LENGTH:
        raise ValidationError(
            {
                "reason_text": _("at most %(limit)d characters, not %(length)d")
                % {"limit": TEXT_MAX_LENGTH, "length": len(reason_text)}
            }
        )
    ctx = current()
    head, _created = ChainHead.objects.select_for_update().get_or_create(pk=1)
    event = Event(
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
        prev_hash=head.last_hash,
    )
    if reason_text:
        # Salted with the link to the previous event: the same text twice, two digests.
        event.text_digest = audit_text_digest(reason_text, salt=event.prev_hash)
    event.occurred_at = occurred_at or event.created_at
    event.hash = event_hash(event)
    event.save()
    if reason_text:
        EventText.objects.create(event=event, text=reason_text)
    head.last_hash = event.hash
    head.save(update_fields=["last_hash"])
    return event
