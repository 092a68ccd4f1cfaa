"""Message texts, rendered at delivery time in the recipient's language from templates."""

from dataclasses import dataclass

from django.template.loader import render_to_string
from django.utils import translation

from casetracker.audit.models import Event


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


def render_event_message(event: Event, language: str) -> Message:
    context = {
        "event": event,
        "reference": event.batch_ref or event.subject_ref,
        "details": event.details,
    }
    with translation.override(language):
        subject = render_to_string("notifications/event_subject.txt", context).strip()
        body = render_to_string("notifications/event_body.txt", context).strip()
    return Message(subject=" ".join(subject.split()), body=body)
