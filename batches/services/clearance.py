"""Several vetting decisions at once: the cleared list comes back from the border authority as a
whole, so it is recorded as a whole."""

from collections.abc import Mapping
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from casetracker.errors import TransitionRefused, state_word

from ..models import Batch, BatchMember, BatchStatus, Clearance
from .common import batch_occurred_at, lock_batch, too_long
from .lines import LineKey, as_key, resolve_lines
from .members import batch_record_clearance


def _decision_problems(key: "int | LineKey", clearance: str, note: str) -> list[str]:
    problems = []
    if clearance not in (Clearance.APPROVED, Clearance.REJECTED):
        problems.append(
            _("%(who)s: the decision must be approved or rejected") % {"who": as_key(key)}
        )
    if problem := too_long(BatchMember, "clearance_note", note or ""):
        problems.append(_("%(who)s: note: %(problem)s") % {"who": as_key(key), "problem": problem})
    return problems


@transaction.atomic
def batch_record_clearances(
    *,
    batch: Batch,
    actor,
    decisions: Mapping["int | LineKey", tuple[str, str]],
    occurred_at: datetime | None = None,
) -> list[BatchMember]:
    """Record the clearance of many lines of a submitted batch, all or nothing.

    `decisions` maps a line (its id, or a `LineKey` naming it by person or companion) to
    (clearance, note). Nothing is recorded unless every decision can be:
    - a decision other than approved or rejected, a note too long, a line not on this batch or
      a line named twice is bad input: `ValidationError` under `decisions`, every item named;
    - a batch not submitted is a refusal of its state: `TransitionRefused` (the lines of a
      submitted batch are all open: they close when it is cleared or cancelled).
    One clearance event per line, in line order, as when they are recorded one by one.
    `occurred_at`, when the list was decided, is the time of every decision of the call
    (checked once, before any is recorded: a ValidationError naming `occurred_at`)."""
    if not decisions:
        raise ValidationError({"decisions": _("no decision to record")})
    batch = lock_batch(batch)
    lines = batch.members.select_related("batch", "patient", "companion__patient", "returnee")
    found, errors = resolve_lines(batch, decisions, lines)
    for key, (clearance, note) in decisions.items():
        errors += _decision_problems(key, clearance, note)
    if errors:
        raise ValidationError({"decisions": errors})
    if batch.status != BatchStatus.SUBMITTED:
        raise TransitionRefused(
            _("batch %(code)s is %(status)s: clearance is recorded only once it is submitted")
            % {"code": batch.code, "status": state_word(batch.status)}
        )
    occurred_at = batch_occurred_at(batch, occurred_at)
    recorded = []
    for key, line in sorted(found.items(), key=lambda item: item[1].pk):
        clearance, note = decisions[key]
        recorded.append(
            batch_record_clearance(
                batch=batch,
                member=line,
                clearance=clearance,
                actor=actor,
                note=note or "",
                occurred_at=occurred_at,
            )
        )
    return recorded


def pending_decisions(batch: Batch, clearance: str = Clearance.APPROVED) -> dict:
    """The same decision for every open line still awaiting one ("approve all pending")."""
    lines = batch.members.filter(is_open=True, clearance=Clearance.PENDING)
    return {pk: (clearance, "") for pk in lines.values_list("pk", flat=True)}
