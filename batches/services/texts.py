"""The batches' own copies of a text of the audit log, blanked when the text is redacted
(`casetracker.audit.redaction.text_redact` sends `text_redacted` inside its transaction).

Each copy is blanked only if it still holds the redacted text: a clearance note corrected by a
later decision, or a crossing whose reason changed since, holds another one."""

from casetracker.audit.models import Action, Event, SubjectType

from ..models import Batch, BatchMember, Crossing, Statement


def blank_copies(sender, *, event: Event, text: str, **kwargs) -> None:
    if event.action == Action.STATEMENT:
        Statement.objects.filter(event=event).update(text="")
    elif event.subject_type == SubjectType.BATCH and event.action == Action.CANCEL:
        Batch.objects.filter(code=event.subject_ref, cancel_reason_text=text).update(
            cancel_reason_text=""
        )
    elif event.subject_type == SubjectType.MEMBER and event.action == Action.CLEARANCE:
        # A line's events name it "<batch code>#<line id>".
        line_id = event.subject_ref.rpartition("#")[2]
        if line_id.isdigit():
            BatchMember.objects.filter(pk=int(line_id), clearance_note=text).update(
                clearance_note=""
            )
    elif event.subject_type == SubjectType.CROSSING and event.action in (
        Action.CREATE,
        Action.CROSSING_STATE,
    ):
        Crossing.objects.filter(code=event.subject_ref, state_reason=text).update(state_reason="")
