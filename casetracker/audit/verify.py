"""Walking the audit hash chain: each event must carry the hash of the one before it, and its own
hash must match its content. The texts kept beside the events are checked too: each one not
redacted must still match the keyed hash its event chained."""

from dataclasses import dataclass

from casetracker.crypto import audit_text_matches

from .models import GENESIS_HASH, ChainHead, Event, EventText
from .services import event_hash


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_at: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None and not self.problem


def _kept(event: Event) -> EventText | None:
    try:
        return event.text_row
    except EventText.DoesNotExist:
        return None


def _text_problem(event: Event) -> str:
    """What is wrong with the text kept beside `event`, if anything. A redacted text is blank
    and proves nothing: its digest stays in the chain, checked with the event."""
    kept = _kept(event)
    if not event.text_digest:
        return "has a text beside it but no digest in the chain (a text was added)" if kept else ""
    if kept is None:
        return "its text is missing (a text was removed)"
    if kept.is_redacted:
        return "" if kept.text == "" else "its text is marked redacted but is not blank"
    if not audit_text_matches(kept.text, salt=event.prev_hash, digest=event.text_digest):
        return "its text differs from the digest in the chain (altered)"
    return ""


def verify_chain() -> ChainReport:
    """The first broken link or altered text, or a clean report. Reads in id order, in
    chunks, each event with the text kept beside it."""
    previous = GENESIS_HASH
    checked = 0
    events = Event.objects.select_related("text_row").order_by("id")
    for event in events.iterator(chunk_size=2000):
        if event.prev_hash != previous:
            return ChainReport(
                checked, event.pk, "does not follow the event before it (one was removed)"
            )
        if event_hash(event) != event.hash:
            return ChainReport(checked, event.pk, "content differs from its hash (altered)")
        if problem := _text_problem(event):
            return ChainReport(checked, event.pk, problem)
        previous = event.hash
        checked += 1
    head = ChainHead.objects.filter(pk=1).first()
    if head is not None and head.last_hash != previous:
        return ChainReport(checked, None, "the newest events are missing (the chain head differs)")
    return ChainReport(checked)
