"""Walking the audit hash chain: each event must carry the hash of the one before it, and its own
hash must match its content. The texts kept beside the events are checked too: each one not
redacted must still match the keyed hash its event chained, and each one redacted must point to
the chained `redact` event that recorded it (who, when, why), which must name it."""

from dataclasses import dataclass

from casetracker.crypto import audit_text_matches

from .models import GENESIS_HASH, AccessLane, Action, ChainHead, Event, EventText
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
    and proves nothing: its digest stays in the chain, checked with the event; what proves the
    redaction is its own event, chained (`_redaction_problem`)."""
    kept = _kept(event)
    if not event.text_digest:
        return "has a text beside it but no digest in the chain (a text was added)" if kept else ""
    if kept is None:
        return "its text is missing (a text was removed)"
    if kept.is_redacted:
        if kept.text != "":
            return "its text is marked redacted but is not blank"
        return _redaction_problem(event, kept)
    if kept.redaction_event_id is not None or kept.redacted_by_id is not None:
        return "its text is not redacted but names a redaction"
    if not audit_text_matches(kept.text, salt=event.prev_hash, digest=event.text_digest):
        return "its text differs from the digest in the chain (altered)"
    return ""


def _redaction_problem(event: Event, kept: EventText) -> str:
    """A text marked redacted must point to the `redact` event that recorded it: an event of
    the chain naming this one, whose time, author and reason are the ones kept beside the
    text. Blanking a text in the database, with any date, is otherwise indistinguishable from
    a redaction."""
    redaction = kept.redaction_event
    if redaction is None:
        return "its text was blanked without a redaction event (not redacted by the application)"
    if redaction.action != Action.REDACT or redaction.details.get("event") != event.pk:
        return f"its text names event {redaction.pk} as its redaction, which did not redact it"
    if (redaction.created_at, redaction.actor_id) != (kept.redacted_at, kept.redacted_by_id):
        return f"its redaction's time or author differ from those of redaction event {redaction.pk}"
    if kept.redaction_reason != redaction.reason_text:
        return f"its redaction's reason differs from the text of redaction event {redaction.pk}"
    return ""


def _redact_problem(event: Event) -> str:
    """A `redact` event must have redacted the text it names: a text put back after its
    redaction no longer points to it."""
    if event.action != Action.REDACT:
        return ""
    try:
        redacted = event.redacted_text
    except EventText.DoesNotExist:
        redacted = None
    if redacted is None or redacted.event_id != event.details.get("event"):
        return (
            f"it records redacting the text of event {event.details.get('event')}, "
            "which is not redacted by it (a redacted text was put back)"
        )
    return ""


@dataclass
class _Lane:
    """What the walk has seen of one access lane: its last event, and the one before (a seal
    may name either: the newest read can be in flight, inserted but not committed, when the
    lane's head is sealed; the lane's lock lets no second one in)."""

    seq: int = 0
    hash: str = GENESIS_HASH
    before: tuple[int, str] = (0, GENESIS_HASH)

    def holds(self, seq: int, digest: str) -> bool:
        return (seq, digest) in ((self.seq, self.hash), self.before)


def verify_chain() -> ChainReport:
    """The first broken link, altered text or missing read, or a clean report. Reads in id
    order, in chunks, each event with the text kept beside it: the main chain's events each
    follow the one before them in it; each access lane's reads follow the one before them in
    their lane, counted without a gap; each seal names lane heads the walk has reached; and at
    the end the heads of the main chain and of every lane are the last events walked."""
    previous = GENESIS_HASH
    lanes: dict[int, _Lane] = {}
    checked = 0
    events = Event.objects.select_related(
        "text_row__redaction_event__text_row", "redacted_text"
    ).order_by("id")
    for event in events.iterator(chunk_size=2000):
        problem = _link_problem(event, previous, lanes)
        if not problem and event_hash(event) != event.hash:
            problem = "content differs from its hash (altered)"
        problem = problem or _text_problem(event) or _redact_problem(event)
        problem = problem or _seal_problem(event, lanes)
        if problem:
            return ChainReport(checked, event.pk, problem)
        if event.lane is None:
            previous = event.hash
        else:
            lane = lanes.setdefault(event.lane, _Lane())
            lane.before = (lane.seq, lane.hash)
            lane.seq, lane.hash = event.lane_seq, event.hash
        checked += 1
    head = ChainHead.objects.filter(pk=1).first()
    if head is not None and head.last_hash != previous:
        return ChainReport(checked, None, "the newest events are missing (the chain head differs)")
    return ChainReport(checked, None, _lane_heads_problem(lanes))


def _link_problem(event: Event, previous: str, lanes: dict[int, "_Lane"]) -> str:
    if event.lane is None:
        if event.prev_hash != previous:
            return "does not follow the event before it (one was removed)"
        return ""
    lane = lanes.get(event.lane, _Lane())
    if event.lane_seq != lane.seq + 1:
        return (
            f"is read {event.lane_seq} of access lane {event.lane}, whose last read walked is "
            f"{lane.seq} (one was removed)"
        )
    if event.prev_hash != lane.hash:
        return f"does not follow the read before it in access lane {event.lane} (altered)"
    return ""


def _seal_problem(event: Event, lanes: dict[int, "_Lane"]) -> str:
    if event.action != Action.SEAL or event.lane is not None:
        return ""
    for lane_id, (seq, digest) in sorted(event.details.get("lanes", {}).items()):
        if not lanes.get(int(lane_id), _Lane()).holds(seq, digest):
            return (
                f"seals read {seq} of access lane {lane_id}, which is not the read walked "
                "there (reads were removed or altered)"
            )
    return ""


def _lane_heads_problem(lanes: dict[int, "_Lane"]) -> str:
    heads = {lane.pk: (lane.seq, lane.last_hash) for lane in AccessLane.objects.all()}
    for lane_id in sorted(heads.keys() | lanes.keys()):
        walked = lanes.get(lane_id, _Lane())
        if heads.get(lane_id) != (walked.seq, walked.hash):
            return (
                f"the newest reads of access lane {lane_id} are missing (its head is not the "
                "last read walked)"
            )
    return ""
