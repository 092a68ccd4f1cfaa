"""Message texts, rendered at delivery time in the recipient's language from templates."""

from dataclasses import dataclass

from django.template.loader import render_to_string
from django.utils import translation

from casetracker.audit.models import Event
from casetracker.audit.vocabulary import state_label


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


def render_event_message(event: Event, language: str) -> Message:
    with translation.override(language):
        context = {
            "event": event,
            "reference": event.batch_ref or event.subject_ref,
            "from_label": state_label(event.from_state) if event.from_state else "",
            "to_label": state_label(event.to_state) if event.to_state else "",
            "reason_label": state_label(event.reason_code) if event.reason_code else "",
            "source_label": state_label(event.source) if event.source else "",
        }
        subject = render_to_string("notifications/event_subject.txt", context).strip()
        body = render_to_string("notifications/event_body.txt", context).strip()
    return Message(subject=" ".join(subject.split()), body=body)
