"""What a notification says, rendered at delivery time in the recipient's language.

Email and inbox texts go to staff and may say more; SMS and webhook texts leave this system for
phones and partner systems, so they carry references only (a case reference, a batch code,
states and reason codes), never a name, an ID number, a diagnosis, a facility or free text."""

from dataclasses import dataclass

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext

from casetracker.audit.models import Action, Event
from casetracker.audit.vocabulary import state_label

from .audiences import event_type
from .models import Notification


@dataclass(frozen=True)
class Message:
    subject: str
    body: str  # plain text
    html: str = ""  # a whole HTML document, for email


def _reference(event: Event) -> str:
    return event.batch_ref or event.subject_ref


def event_subject(event: Event, language: str, *, page: bool = False) -> str:
    """ "Batch RAF-2026-02-04-3: cancelled", in `language`: a batch code and an action, never
    a name or the free text. Made with gettext, not a template: the inbox and the notification
    list show one on every row. For a page (`page=True`), HTML with the code isolated, so that
    in an Arabic sentence it still reads left to right ("RAF-2026-02-04-3", not
    "3-RAF-2026-02-04")."""
    reference = _reference(event)
    with translation.override(language):
        action = event.get_action_display()
        if page:
            # The sentence escaped first, then the escaped parts put in it.
            return mark_safe(  # noqa: S308 - every part is escaped
                escape(gettext("Batch %(ref)s: %(action)s"))
                % {
                    "ref": format_html('<bdi class="code">{}</bdi>', reference),
                    "action": escape(action),
                }
            )
        subject = gettext("Batch %(ref)s: %(action)s") % {"ref": reference, "action": action}
    return " ".join(subject.split())


def _context(event: Event) -> dict:
    reference = _reference(event)
    return {
        "event": event,
        "action": event.action,
        "reference": reference,
        "reference_html": format_html('<bdi style="white-space: nowrap;">{}</bdi>', reference),
        "from_label": state_label(event.from_state) if event.from_state else "",
        "to_label": state_label(event.to_state) if event.to_state else "",
        "reason_label": state_label(event.reason_code) if event.reason_code else "",
        "source_label": state_label(event.source) if event.source else "",
        # Who relayed a cancellation or a statement to us (blank: nobody, or no such thing).
        "relayed_label": state_label(relayed) if (relayed := _relayed_by(event)) else "",
        # The free text, or where it was redacted before delivery, the redaction's sentence.
        "text": event.text_shown,
    }


def _relayed_by(event: Event) -> str:
    return (event.details or {}).get("relayed_by", "")


def render_event_message(event: Event, language: str) -> Message:
    """The email: its subject, plain text and HTML."""
    with translation.override(language):
        context = _context(event)
        body = render_to_string("notifications/event_body.txt", context).strip()
        html = render_to_string("notifications/event_body.html", context)
    return Message(subject=event_subject(event, language), body=body, html=html)


def render_inbox_details(event: Event, language: str) -> str:
    """The details of one inbox entry (the email's table) as an HTML fragment for the page."""
    with translation.override(language):
        context = _context(event)
        # The inbox page's Content-Security-Policy refuses style="" attributes: classes there.
        context.update(
            page=True,
            reference_html=format_html('<bdi class="code">{}</bdi>', context["reference"]),
        )
        return render_to_string("notifications/event_details.html", context)


def render_sms(notification: Notification) -> str:
    event = notification.event
    with translation.override(notification.language):
        context = {
            "action": event.action,
            "case": notification.payload.get("case", ""),
            "batch": event.batch_ref,
            "to_label": state_label(event.to_state) if event.to_state else "",
        }
        text = render_to_string("notifications/sms.txt", context)
    return " ".join(text.split())


def webhook_payload(notification: Notification) -> dict:
    event = notification.event
    payload = {
        "id": notification.idempotency_key,
        "type": event_type(event.subject_type, event.action),
        # When it happened, which a late recording does not move; and when it was recorded.
        "occurred_at": event.occurred.isoformat(),
        "recorded_at": event.created_at.isoformat(),
        "batch": event.batch_ref,
        "from": event.from_state,
        "to": event.to_state,
        "reason_code": event.reason_code,
        "source": event.source,
        # Who relayed it to us (a cancellation, a statement); blank: directly, or not said.
        "relayed_by": _relayed_by(event),
        "rescheduled_from": (event.details or {}).get("rescheduled_from", ""),
        "cases": notification.payload.get("cases", []),
    }
    if event.action == Action.STATEMENT:
        # What a party said later, without what it said: free text never leaves by webhook.
        # `source` is who said it and `occurred_at` when.
        payload["about_cancellation"] = bool((event.details or {}).get("about_cancellation"))
    return payload
