"""Several vetting decisions at once: the cleared list comes back from the border authority as a
whole, so it is recorded as a whole."""

from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from casetracker.errors import TransitionRefused

from ..models import Batch, BatchMember, Clearance
from .members import batch_record_clearance


@transaction.atomic
def batch_record_clearances(
    *, batch: Batch, actor, decisions: Mapping[int, tuple[str, str]]
) -> list[BatchMember]:
    """Record the clearance of many lines of a submitted batch (line id -> (clearance, note)),
    all or nothing: if one decision is refused, none is recorded, and every refusal is named.
    One clearance event per line, as when they are recorded one by one."""
    if not decisions:
        raise ValidationError({"decisions": _("no decision to record")})
    recorded, problems = [], []
    for line_id, (clearance, note) in sorted(decisions.items()):
        member = BatchMember(pk=line_id)
        try:
            with transaction.atomic():
                recorded.append(
                    batch_record_clearance(
                        batch=batch, member=member, clearance=clearance, actor=actor, note=note
                    )
                )
        except TransitionRefused as exc:
            problems.extend(exc.problems)
        except ValidationError as exc:
            problems.extend(
                _("line %(line)s: %(message)s") % {"line": line_id, "message": message}
                for message in exc.messages
            )
    if problems:
        # Undo the decisions already written in this transaction.
        raise TransitionRefused(list(dict.fromkeys(problems)))
    return recorded


def pending_decisions(batch: Batch, clearance: str = Clearance.APPROVED) -> dict:
    """The same decision for every open line still awaiting one ("approve all pending")."""
    lines = batch.members.filter(is_open=True, clearance=Clearance.PENDING)
    return {pk: (clearance, "") for pk in lines.values_list("pk", flat=True)}
