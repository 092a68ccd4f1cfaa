"""Appending to the audit log. Called inside the caller's transaction."""

import hashlib
import json
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from casetracker.accounts.roles import user_role

from .context import current
from .models import Action, ChainHead, Event, SubjectType

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
    payload = {name: getattr(event, name) for name in HASHED_FIELDS}
    payload["created_at"] = event.created_at.isoformat()
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
) -> Event:
    """Append one event, chained to the previous one. Must run inside the caller's transaction,
    so the event exists if and only if the change it records was committed."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record_event must run inside the transaction of the change")
    # Every free text a service records passes here: refuse it whole, naming the field, and the
    # caller's transaction rolls the change back with it.
    limit = Event._meta.get_field("reason_text").max_length
    if len(reason_text) > limit:
        raise ValidationError(
            {
                "reason_text": _("at most %(limit)d characters, not %(length)d")
                % {"limit": limit, "length": len(reason_text)}
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
        reason_text=reason_text,
        source=source,
        channel=ctx.channel,
        request_id=ctx.request_id,
        details=details or {},
        prev_hash=head.last_hash,
    )
    event.hash = event_hash(event)
    event.save()
    head.last_hash = event.hash
    head.save(update_fields=["last_hash"])
    return event
