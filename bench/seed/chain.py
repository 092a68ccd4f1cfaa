"""The seeded history's events: collected as they happen in the story, then put in the order
they were recorded, numbered, and chained one after the other with the application's own hash
(`casetracker.audit.services.event_hash`), from the head of the chain as the setup left it.
Their free texts are kept beside them under their keyed digests, as `record_event` keeps
them."""

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from random import Random
from typing import Any

from django.conf import settings

from casetracker.accounts.roles import user_role
from casetracker.audit.context import Channel
from casetracker.audit.models import ChainHead, Event, EventText
from casetracker.audit.services import event_hash
from casetracker.crypto import audit_text_digest

from .copy import Ids, copy_instances


class Spec:
    """One event to be: its fields, its free text, and who hears of it (user accounts)."""

    __slots__ = ("created_at", "fields", "id", "order", "recipients", "text")

    def __init__(self, order: int, created_at: datetime, fields: dict[str, Any], text: str):
        self.order = order
        self.created_at = created_at
        self.fields = fields
        self.text = text
        self.recipients: Sequence = ()
        self.id = 0


class EventStream:
    def __init__(self, rng: Random):
        self.rng = rng
        self.specs: list[Spec] = []
        self._actors: dict[int, tuple[str, int | None]] = {}

    def __len__(self) -> int:
        return len(self.specs)

    def add(
        self,
        created_at: datetime,
        *,
        actor,
        occurred_at: datetime | None = None,
        text: str = "",
        request_id: str | None = None,
        **fields: Any,
    ) -> Spec:
        """An event recorded at `created_at` by `actor` (a user, or None for the system),
        which happened at `occurred_at` (default: when recorded, as `record_event` does)."""
        if actor is not None and actor.pk not in self._actors:
            self._actors[actor.pk] = (user_role(actor).value, actor.facility_id)
        role, facility_id = self._actors[actor.pk] if actor is not None else ("system", None)
        fields.update(
            actor_id=actor.pk if actor is not None else None,
            actor_role=role,
            actor_facility_id=facility_id,
            occurred_at=occurred_at or created_at,
        )
        if request_id is not None:
            fields["request_id"] = request_id
        spec = Spec(len(self.specs), created_at, fields, text)
        self.specs.append(spec)
        return spec

    def request_id(self) -> str:
        return uuid.UUID(int=self.rng.getrandbits(128)).hex

    def write(self, ids: Ids) -> str:
        """Number the events in the order they were recorded, chain and COPY them with their
        texts; moves the chain head to the last one and returns its hash."""
        self.specs.sort(key=lambda spec: (spec.created_at, spec.order))
        for spec in self.specs:
            spec.id = ids.take(Event)
        head = ChainHead.objects.select_for_update().get_or_create(pk=1)[0]
        last = [head.last_hash]
        copy_instances(Event, self._chained(last))
        copy_instances(
            EventText,
            (EventText(event_id=spec.id, text=spec.text) for spec in self.specs if spec.text),
        )
        head.last_hash = last[0]
        head.save(update_fields=["last_hash"])
        return head.last_hash

    def _chained(self, last: list[str]) -> Iterator[Event]:
        key = settings.AUDIT_TEXT_KEY
        for spec in self.specs:
            # In UTC, as `timezone.now()` gives it and the database gives it back: the hash
            # covers the written form of the time.
            created_at = spec.created_at.astimezone(UTC)
            event = Event(id=spec.id, created_at=created_at, prev_hash=last[0], **spec.fields)
            # Drawn here, not kept on a million specs: six in ten steps are taken on the pages.
            event.channel = Channel.WEB if self.rng.random() < 0.6 else Channel.API
            event.request_id = event.request_id or self.request_id()
            if spec.text:
                # Salted with the link to the event before, as `record_event` does.
                event.text_digest = audit_text_digest(spec.text, salt=event.prev_hash, key=key)
            event.hash = event_hash(event)
            last[0] = event.hash
            yield event
