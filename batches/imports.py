"""A clearance list coming back from security vetting as a spreadsheet: one row per person (a
national ID or a case or returnee reference), approved or rejected, with an optional note,
recorded for a submitted batch in one all-or-nothing call of `batch_record_clearances`, the
service the API's bulk clearance uses.

Every row must name one person on the batch, once: a row naming nobody on it, or someone
already named, refuses the list (nothing is recorded), since it is most likely a typo or the
wrong batch. People on the batch the list does not name are reported and stay pending: the
batch cannot be cleared until they are decided. A dry run does the same work and rolls it back.
Each import, dry run or real, is one audit event (who, the file's SHA-256, counts)."""

from dataclasses import dataclass, field
from typing import IO

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from casetracker import crypto
from casetracker.audit.models import Action, SubjectType
from casetracker.audit.services import record_event
from casetracker.errors import TransitionRefused
from patients.fields import normalise_national_id
from patients.imports.cases import file_sha256
from patients.imports.reading import FileRefused, open_table
from patients.imports.rows import CellError
from patients.imports.template import fold_header

from .models import Batch, BatchMember, Clearance
from .services.clearance import batch_record_clearances

NATIONAL_ID, REFERENCE, DECISION, NOTE = "national_id", "reference", "decision", "note"

# Folded header -> column. Stable spellings (a file format), English and Arabic.
HEADERS = {
    fold_header(spelling): key
    for key, spellings in {
        NATIONAL_ID: ("national_id", "National ID", "رقم الهوية"),
        REFERENCE: ("reference", "case_reference", "Case reference", "Reference", "المرجع"),
        DECISION: ("decision", "clearance", "Decision", "Clearance", "القرار"),
        NOTE: ("note", "Note", "ملاحظة"),
    }.items()
    for spelling in spellings
}
DECISIONS = {
    fold_header(spelling): value
    for value, spellings in {
        Clearance.APPROVED: ("approved", "approve", "yes", "cleared", "موافق", "مقبول"),
        Clearance.REJECTED: ("rejected", "reject", "no", "refused", "مرفوض"),
    }.items()
    for spelling in spellings
}


@dataclass
class ClearanceResult:
    sha256: str
    dry_run: bool
    applied: bool = False
    decided: dict[str, int] = field(default_factory=dict)  # clearance -> lines
    errors: list[CellError] = field(default_factory=list)
    # Lines of the batch the list does not name (their labels: references, never names).
    not_on_list: list[str] = field(default_factory=list)
    # The decision the list gives each line it names (line id -> clearance), for a preview.
    by_line: dict[int, str] = field(default_factory=dict)


@dataclass
class _Lines:
    """The batch's open lines, found by reference or by the keyed hash of a national ID. One
    national ID may stand on several lines: a mother accompanying two of her children."""

    all: list[BatchMember]
    by_reference: dict[str, BatchMember]
    by_hash: dict[str, list[BatchMember]]

    @classmethod
    def of(cls, batch: Batch) -> "_Lines":
        lines = list(
            batch.members.filter(is_open=True).select_related(
                "patient", "companion__patient", "returnee"
            )
        )
        by_reference, by_hash = {}, {}
        for line in lines:
            by_hash.setdefault(line.person.national_id_hash, []).append(line)
            if not line.companion_id:
                by_reference[line.person_reference.upper()] = line
        return cls(lines, by_reference, by_hash)

    def find(self, *, number: str, reference: str) -> list[BatchMember] | None:
        """The lines named (empty: nobody on the batch); None if the two cells disagree."""
        by_number: list[BatchMember] = []
        if number:
            for digest in crypto.lookup_hashes(normalise_national_id(number)):
                by_number = by_number or self.by_hash.get(digest, [])
        line = self.by_reference.get(reference.upper()) if reference else None
        if number and reference and by_number != [line]:
            return None
        return by_number or ([line] if line else [])


def import_clearance(
    *, file: IO[bytes], name: str, batch: Batch, actor, dry_run: bool = True
) -> ClearanceResult:
    """Check (`dry_run`) or record a clearance list for a submitted batch, all or nothing."""
    result = ClearanceResult(sha256=file_sha256(file), dry_run=dry_run)
    try:
        with transaction.atomic():
            decisions = _decisions(result, file, name, batch)
            if decisions and not result.errors:
                _record_decisions(result, batch, actor, decisions)
            result.applied = not dry_run and not result.errors
            if result.applied:
                _record(result, actor, batch)
            else:
                transaction.set_rollback(True)
    except FileRefused as refused:
        result.errors = [CellError(refused.row, refused.column, refused.message)]  # type: ignore[arg-type]
    if not result.applied:
        with transaction.atomic():
            _record(result, actor, batch)
    return result


def _decisions(result: ClearanceResult, file, name: str, batch: Batch) -> dict[int, tuple]:
    table = open_table(file, name=name)
    at: dict[str, tuple[int, str]] = {}
    for index, header in enumerate(table.headers):
        key = HEADERS.get(fold_header(header))
        if key is None:
            raise FileRefused(_('unknown column "%(header)s"') % {"header": header}, row=1)
        at[key] = (index, header)
    if DECISION not in at or not ({NATIONAL_ID, REFERENCE} & set(at)):
        raise FileRefused(
            _("the list needs a decision column and a national ID or reference column"), row=1
        )
    lines = _Lines.of(batch)
    decisions: dict[int, tuple[str, str]] = {}
    named_on: dict[int, int] = {}  # line id -> the row that named it

    def cell(cells: list, key: str) -> str:
        index = at[key][0] if key in at else None
        return str(cells[index]).strip() if index is not None and index < len(cells) else ""

    def refuse(row: int, key: str, message: str) -> None:
        result.errors.append(CellError(row, at[key][1] if key in at else None, message))

    for row, cells in table.rows:
        number, reference = cell(cells, NATIONAL_ID), cell(cells, REFERENCE)
        who = NATIONAL_ID if number else REFERENCE
        decision = DECISIONS.get(fold_header(cell(cells, DECISION)))
        if decision is None:
            refuse(row, DECISION, _("write approved or rejected"))
        note = cell(cells, NOTE)
        if len(note) > (limit := BatchMember._meta.get_field("clearance_note").max_length):
            refuse(
                row,
                NOTE,
                _("at most %(limit)d characters, not %(length)s")
                % {"limit": limit, "length": f"{len(note):,}"},
            )
        if not number and not reference:
            refuse(row, who, _("this cell is required"))
            continue
        found = lines.find(number=number, reference=reference)
        if found is None:
            refuse(row, REFERENCE, _("the national ID and the reference name two people"))
        elif not found:
            refuse(row, who, _("not on batch %(code)s") % {"code": batch.code})
        elif earlier := [named_on[line.pk] for line in found if line.pk in named_on]:
            refuse(row, who, _("already named on row %(row)d") % {"row": earlier[0]})
        else:
            for line in found:
                named_on[line.pk] = row
                if decision is not None:
                    decisions[line.pk] = (decision, note)
    if not named_on and not result.errors:
        raise FileRefused(_("the file holds no rows under its headers"), row=2)
    result.not_on_list = sorted(line.label for line in lines.all if line.pk not in named_on)
    result.by_line = {pk: decision for pk, (decision, _note) in decisions.items()}
    return decisions


def _record_decisions(result: ClearanceResult, batch: Batch, actor, decisions: dict) -> None:
    try:
        with transaction.atomic():
            recorded = batch_record_clearances(batch=batch, actor=actor, decisions=decisions)
    except TransitionRefused as exc:
        raise FileRefused(str(exc)) from exc
    except ValidationError as exc:
        result.errors += [CellError(None, None, m) for m in exc.messages]  # type: ignore[arg-type]
        return
    for line in recorded:
        result.decided[line.clearance] = result.decided.get(line.clearance, 0) + 1


def _record(result: ClearanceResult, actor, batch: Batch) -> None:
    record_event(
        subject_type=SubjectType.IMPORT,
        subject_ref="clearance",
        batch_ref=batch.code,
        action=Action.IMPORT,
        actor=actor,
        details={
            "sha256": result.sha256,
            "dry_run": result.dry_run,
            "applied": result.applied,
            "decided": result.decided,
            "refused_rows": len({e.row for e in result.errors}),
            "not_on_list": len(result.not_on_list),
        },
    )
