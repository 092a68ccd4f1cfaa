"""Redacting one free text of the audit log (README, "Audit log").

A text recorded since audit/0010 lives beside its event (`EventText`); the hash chain holds its
keyed hash (`Event.text_digest`). Redacting blanks the text and keeps the digest, so the chain
still verifies; the redaction is an event of its own (who, when, why, which event's text: never
the text), and the domain rows that copy the text (a batch's cancel text, a clearance note, a
statement) are blanked in the same transaction by the receivers of `text_redacted`."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.dispatch import Signal
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from casetracker.accounts.roles import Role, user_role
from casetracker.errors import TransitionRefused

from .models import Action, Event, EventText
from .services import record_event

REDACTION_REASON_MAX_LENGTH = EventText._meta.get_field("redaction_reason").max_length

# Sent inside the redaction's transaction, with `event` (whose text was redacted) and `text`
# (the text as it was, to recognise its copies). The domain apps blank their copies of it: the
# audit app imports none of them.
text_redacted = Signal()


@transaction.atomic
def text_redact(*, text_id: int, actor, reason: str) -> EventText:
    """Blank the text of event `text_id` (an `EventText` is keyed by its event's id), for an
    admin, with a reason; writes a `redact` event about the same subject. Refused (409) for an
    event recorded before texts were kept apart (its text is inside the chained row), an event
    without text and a text already redacted; a missing reason is a ValidationError."""
    if user_role(actor) is not Role.ADMIN:
        raise PermissionDenied(_("Only an admin may redact a text of the audit log."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("say why the text is redacted, without repeating it")})
    if len(reason) > REDACTION_REASON_MAX_LENGTH:
        raise ValidationError(
            {
                "reason": _("at most %(limit)d characters, not %(length)d")
                % {"limit": REDACTION_REASON_MAX_LENGTH, "length": len(reason)}
            }
        )
    event = Event.objects.filter(pk=text_id).first()
    if event is None:
        raise ValidationError({"text_id": _("there is no event #%(id)s") % {"id": text_id}})
    kept = EventText.objects.select_for_update().filter(pk=event.pk).first()
    names = {"id": event.pk}
    if kept is None:
        if event.chained_text:
            raise TransitionRefused(
                _(
                    "The text of event #%(id)s was recorded before texts were kept apart from "
                    "the hash chain: it is part of the chained event and cannot be redacted "
                    "without breaking the chain."
                )
                % names
            )
        raise TransitionRefused(_("Event #%(id)s has no text to redact.") % names)
    if kept.is_redacted:
        raise TransitionRefused(
            _("The text of event #%(id)s was already redacted on %(day)s.")
            % {
                **names,
                "day": formats.date_format(
                    timezone.localtime(kept.redacted_at), "SHORT_DATE_FORMAT"
                ),
            }
        )
    text = kept.text
    recorded = record_event(
        subject_type=event.subject_type,
        subject_ref=event.subject_ref,
        batch_ref=event.batch_ref,
        subject_facility_id=event.subject_facility_id,
        action=Action.REDACT,
        actor=actor,
        reason_text=reason,
        details={"event": event.pk, "action": event.action},
    )
    kept.text = ""
    kept.redacted_at = recorded.created_at
    kept.redacted_by = actor
    kept.redaction_reason = reason
    kept.redaction_event = recorded
    kept.save()
    if event.action == Action.REDACT:
        # The reason of a redaction is copied beside the text it redacted: blank it there too.
        EventText.objects.filter(pk=event.details.get("event"), redaction_reason=text).update(
            redaction_reason=""
        )
    text_redacted.send(sender=EventText, event=event, text=text)
    return kept
