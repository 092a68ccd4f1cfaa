"""What a party said later about a batch or its cancellation (DESIGN section 3, Statement).

A statement is not a step of the batch: it may be added at any time, in any state (a cancelled
or crossed batch included), and it is said at a time of its own (`said_at`), which the order
checks of the batch's facts ignore (`casetracker.audit.models.ASIDE_ACTIONS`)."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Min
from django.utils import timezone
from django.utils.translation import gettext as _

from casetracker.audit.models import OCCURRED, Action, Event, SubjectType
from casetracker.audit.occurred import checked_occurred_at
from casetracker.audit.services import record_event
from casetracker.errors import TransitionRefused, state_word
from casetracker.notifications.services import notify

from ..models import (
    STATEMENT_MAX_LENGTH,
    Batch,
    BatchStatus,
    EndReason,
    InformationSource,
    Statement,
)
from .audience import staff_recipients
from .common import lock_batch


def relay_problems(source: str, relayed_by: str) -> dict[str, str]:
    """What is wrong with who relayed something said or decided by `source` (blank: nobody, we
    heard it directly). The party itself cannot have relayed its own word: that is "directly"
    (two different "other" parties can)."""
    if relayed_by and relayed_by not in InformationSource.values:
        values = ", ".join(InformationSource.values)
        return {
            "relayed_by": _("must be empty (directly) or one of %(values)s") % {"values": values}
        }
    if relayed_by and relayed_by == source and source != InformationSource.OTHER:
        return {
            "relayed_by": _(
                "the same party as who said it: leave it empty if they told us directly"
            )
        }
    return {}


def _opened_at(batch: Batch) -> datetime:
    """When the batch was opened, as recorded (a batch recorded late was opened earlier than
    its row): its first event's time, or the row's."""
    first = Event.objects.filter(
        subject_type=SubjectType.BATCH,
        subject_ref=batch.code,
        action__in=[Action.CREATE, Action.RESCHEDULE],
    ).aggregate(first=Min(OCCURRED))["first"]
    return min(first, batch.created_at) if first else batch.created_at


def _said_at(batch: Batch, said_at: datetime | None, about_cancellation: bool) -> datetime:
    """`said_at` checked as every time a fact occurred (`checked_occurred_at`): not in the
    future, not before the batch was opened, nor, for a statement about its cancellation,
    before the cancellation. Errors name `said_at`."""
    if about_cancellation:
        follows = batch.cancelled_at
        what = _("the cancellation of batch %(code)s") % {"code": batch.code}
    else:
        follows = _opened_at(batch)
        what = _("the creation of batch %(code)s") % {"code": batch.code}
    try:
        checked = checked_occurred_at(said_at, follows=follows, follows_what=what)
    except ValidationError as exc:
        raise ValidationError({"said_at": exc.message_dict["occurred_at"]}) from exc
    return checked or timezone.now()


@transaction.atomic
def statement_add(
    *,
    batch: Batch,
    actor,
    source: str,
    text: str,
    said_at: datetime | None = None,
    relayed_by: str = "",
    about_cancellation: bool = False,
) -> Statement:
    """Record what `source` said about `batch` (or, with `about_cancellation`, about its
    cancellation: the batch must be cancelled) at `said_at` (default: now), as relayed to us
    by `relayed_by` (blank: directly). Writes a `statement` event (occurred: when it was said;
    the text kept beside it, redactable) and notifies the coordinators and auditors (inbox,
    email) and the webhooks subscribed to `batch.statement`, whose payload has no text."""
    text = (text or "").strip()
    errors = relay_problems(source, relayed_by)
    if source not in InformationSource.values:
        errors["source"] = _("must be one of %(values)s") % {"values": InformationSource.values}
    if not text:
        errors["text"] = _("say what was said")
    elif len(text) > STATEMENT_MAX_LENGTH:
        errors["text"] = _("at most %(limit)d characters, not %(length)d") % {
            "limit": STATEMENT_MAX_LENGTH,
            "length": len(text),
        }
    if errors:
        raise ValidationError(errors)
    batch = lock_batch(batch)
    if about_cancellation and batch.status != BatchStatus.CANCELLED:
        raise TransitionRefused(
            _("batch %(code)s is %(status)s: only a cancelled batch has a cancellation")
            % {"code": batch.code, "status": state_word(batch.status)}
        )
    said_at = _said_at(batch, said_at, about_cancellation)
    # No step: neither `from_state` nor `to_state`. Its time is when it was said.
    event = record_event(
        subject_type=SubjectType.BATCH,
        subject_ref=batch.code,
        batch_ref=batch.code,
        subject_facility_id=batch.staging_facility_id,
        action=Action.STATEMENT,
        actor=actor,
        details={"relayed_by": relayed_by, "about_cancellation": about_cancellation},
        occurred_at=said_at,
        reason_text=text,
        source=source,
    )
    statement = Statement.objects.create(
        batch=batch,
        about_cancellation=about_cancellation,
        source=source,
        relayed_by=relayed_by,
        said_at=said_at,
        text=text,
        recorded_by=actor if actor is not None and actor.pk else None,
        recorded_at=event.created_at,
        event=event,
    )
    notify(
        event=event,
        users=staff_recipients(batch, Action.STATEMENT),
        # The people the statement concerns, by reference, for partners' systems; never an
        # SMS: what a party said later is no news for a patient's phone.
        cases=_cases(batch),
    )
    return statement


# Whose lines a statement concerns, by the batch's state: those the cancellation took off,
# those who travelled, or those on board.
_CONCERNED = {BatchStatus.CANCELLED: EndReason.CANCELLED, BatchStatus.CROSSED: EndReason.COMPLETED}


def _cases(batch: Batch) -> list[str]:
    lines = batch.members.filter(companion__isnull=True)  # patients and returnees
    ended = _CONCERNED.get(batch.status)
    lines = lines.filter(end_reason=ended) if ended else lines.filter(is_open=True)
    return [
        line.patient.case_reference if line.patient_id else line.returnee.reference
        for line in lines.select_related("patient", "returnee").order_by("pk")
    ]
