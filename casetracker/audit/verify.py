"""Walking the audit hash chain: each event must carry the hash of the one before it, and its own
hash must match its content."""

from dataclasses import dataclass

from .models import GENESIS_HASH, ChainHead, Event
from .services import event_hash


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_at: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None and not self.problem


def verify_chain() -> ChainReport:
    """The first broken link, or a clean report. Reads in id order, in chunks."""
    previous = GENESIS_HASH
    checked = 0
    for event in Event.objects.order_by("id").iterator(chunk_size=2000):
        if event.prev_hash != previous:
            return ChainReport(
                checked, event.pk, "does not follow the event before it (one was removed)"
            )
        if event_hash(event) != event.hash:
            return ChainReport(checked, event.pk, "content differs from its hash (altered)")
        previous = event.hash
        checked += 1
    head = ChainHead.objects.filter(pk=1).first()
    if head is not None and head.last_hash != previous:
        return ChainReport(checked, None, "the newest events are missing (the chain head differs)")
    return ChainReport(checked)
