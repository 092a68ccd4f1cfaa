"""Importing a list of cases: every row through the registration services, all rows or none.

A dry run and a real import do the same work: each row is registered (or its existing case
updated) through `patient_register_with_family` / `patient_update` inside one transaction, each
row in a savepoint of its own, so a refused row is undone alone and the rows after it are still
checked against everything before. The dry run then rolls the whole transaction back, and so
does a real import with any row refused: the rules are the services' own, never copied here.

Each import, dry run or real, refused or applied, is one audit event: who, the SHA-256 of the
file and the row counts by outcome; never a name, a number or a cell."""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from casetracker import crypto
from casetracker.audit.models import Action, SubjectType
from casetracker.audit.services import record_event

from .. import services
from ..fields import normalise_national_id
from ..models import Patient
from .reading import FileRefused, open_table
from .rows import CellError, Layout, ParsedRow
from .template import COMPANION, PATIENT, REFERRAL

CREATE, UPDATE, REJECT = "create", "update", "reject"
OUTCOMES = (CREATE, UPDATE, REJECT)

# What a coordinator may choose to overwrite on a case already held. Not the national ID: it is
# what found the case.
UPDATABLE = tuple(name for name in services.PATIENT_EDITABLE if name != "national_id")

Progress = Callable[[int, int | None], None]


@dataclass
class RowOutcome:
    """What became of one row. `reference`: the case updated, or created by a real import
    (a dry run's references are thrown away). `changed`: the fields an update changes."""

    row: int
    outcome: str
    reference: str = ""
    changed: list[str] = field(default_factory=list)
    errors: list[CellError] = field(default_factory=list)


@dataclass
class ImportResult:
    sha256: str
    dry_run: bool
    applied: bool = False
    rows: list[RowOutcome] = field(default_factory=list)
    refused: FileRefused | None = None  # the file itself was refused: no row was read

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(OUTCOMES, 0)
        for row in self.rows:
            counts[row.outcome] += 1
        return counts

    def errors(self) -> list[CellError]:
        if self.refused is not None:
            refused = self.refused
            return [CellError(refused.row, refused.column, refused.message)]  # type: ignore[arg-type]
        return [error for row in self.rows for error in row.errors]


def file_sha256(file: IO[bytes]) -> str:
    digest = hashlib.sha256()
    file.seek(0)
    while chunk := file.read(64 * 1024):
        digest.update(chunk)
    file.seek(0)
    return digest.hexdigest()


class _RowRefused(Exception):
    """Undoes a refused row's savepoint; carries its outcome out of it."""

    def __init__(self, outcome: RowOutcome):
        self.outcome = outcome


def import_cases(
    *,
    file: IO[bytes],
    name: str,
    actor,
    dry_run: bool = True,
    update_fields: frozenset[str] | set[str] = frozenset(),
    progress: Progress | None = None,
) -> ImportResult:
    """Check (`dry_run`) or import a list of cases from a CSV or XLSX file (binary, seekable;
    `name` gives its extension). A national ID already held by an open case updates that case
    only in the `update_fields` chosen (a blank cell never erases); otherwise the row is
    refused as a duplicate. Nothing is written unless every row is accepted and `dry_run` is
    False. Raises ValueError for an `update_fields` name that cannot be updated."""
    unknown = set(update_fields) - set(UPDATABLE)
    if unknown:
        raise ValueError(f"cannot update {', '.join(sorted(unknown))}")
    result = ImportResult(sha256=file_sha256(file), dry_run=dry_run)
    try:
        with transaction.atomic():
            _import_rows(result, file, name, actor, frozenset(update_fields), progress)
            result.applied = not dry_run and not result.counts()[REJECT]
            if result.applied:
                _record(result, actor, name)
            else:
                transaction.set_rollback(True)
    except FileRefused as refused:
        result.rows, result.refused = [], refused
    if not result.applied:
        with transaction.atomic():
            _record(result, actor, name)
    return result


def _import_rows(result: ImportResult, file, name, actor, update_fields, progress) -> None:
    table = open_table(file, name=name)
    layout = Layout(table.headers, actor=actor)
    seen: dict[str, int] = {}  # keyed hash of a national ID -> the row that first gave it
    for number, cells in table.rows:
        parsed = layout.parse(number, cells)
        try:
            with transaction.atomic():
                outcome = _import_row(parsed, layout, actor, update_fields, seen)
                if outcome.errors:
                    raise _RowRefused(outcome)
        except _RowRefused as refused:
            outcome = refused.outcome
            outcome.outcome, outcome.reference, outcome.changed = REJECT, "", []
        if result.dry_run and outcome.outcome == CREATE:
            outcome.reference = ""
        result.rows.append(outcome)
        if progress is not None:
            progress(len(result.rows), table.size_hint)
    if not result.rows:
        raise FileRefused(_("the file holds no rows under its headers"), row=2)


def _import_row(
    parsed: ParsedRow, layout: Layout, actor, update_fields, seen: dict[str, int]
) -> RowOutcome:
    outcome = RowOutcome(row=parsed.number, outcome=CREATE, errors=list(parsed.errors))
    id_header = layout.header_of(PATIENT, "national_id")
    number = normalise_national_id(str(parsed.patient.get("national_id", "")))
    existing = None
    if number.isascii() and number.isdigit():
        key = crypto.keyed_hash(number)
        if key in seen:
            outcome.errors.append(
                CellError(
                    parsed.number,
                    id_header,
                    _("the same national ID as row %(row)d") % {"row": seen[key]},
                )
            )
            return outcome
        seen[key] = parsed.number
        existing = _open_case(number)
    if existing is not None:
        return _update(outcome, existing, parsed, layout, actor, update_fields)
    try:
        case = services.patient_register_with_family(
            actor=actor,
            patient=parsed.patient,
            companions=[data for _slot, data in parsed.companions],
            referral=parsed.referral,
        )
    except services.RegistrationRefused as refused:
        slots = [slot for slot, _data in parsed.companions]
        for part, index, error in refused.parts:
            slot = slots[index] if part == COMPANION and index is not None else None
            _add_errors(outcome, error, layout, part, slot)
        return outcome
    outcome.reference = case.case_reference
    return outcome


def _open_case(number: str) -> Patient | None:
    return (
        Patient.objects.filter(
            status__in=services.OPEN_PATIENT_STATUSES,
            national_id_hash__in=crypto.lookup_hashes(number),
        )
        .order_by("pk")
        .first()
    )


def _update(
    outcome: RowOutcome, case: Patient, parsed: ParsedRow, layout: Layout, actor, update_fields
) -> RowOutcome:
    """A row naming a case already held: refused as a duplicate unless the caller chose fields
    to update and may see the case; then only those fields, from the cells that are filled."""
    visible = Patient.objects.visible_to(actor).filter(pk=case.pk).exists()
    if not update_fields or not visible:
        try:
            services.refuse_duplicate_national_id(
                Patient, national_id=case.national_id, actor=actor
            )
        except ValidationError as exc:
            _add_errors(outcome, exc, layout, PATIENT, None)
        return outcome
    outcome.outcome, outcome.reference = UPDATE, case.case_reference
    if outcome.errors:
        return outcome
    data = {name: parsed.patient[name] for name in update_fields if name in parsed.patient}
    before = {name: getattr(case, name) for name in data}
    try:
        updated = services.patient_update(patient=case, actor=actor, **data)
    except ValidationError as exc:
        _add_errors(outcome, exc, layout, PATIENT, None)
        return outcome
    outcome.changed = sorted(name for name in data if getattr(updated, name) != before[name])
    return outcome


def _add_errors(
    outcome: RowOutcome, error: ValidationError, layout: Layout, part: str, slot: int | None
) -> None:
    """A service's messages, each under the column of its field; a message on a cell that was
    already refused when it was read is left out (the cell's own error says more)."""
    already = {e.column for e in outcome.errors}
    messages: dict[str, Any] = (
        error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
    )
    for field_name, texts in messages.items():
        header = layout.header_of(part, field_name, slot)
        if header is not None and header in already:
            continue
        for text in texts:
            prefix = ""
            if header is None and part in (COMPANION, REFERRAL):
                prefix = (
                    _("companion %(slot)d: ") % {"slot": slot}
                    if part == COMPANION
                    else _("referral: ")
                )
            outcome.errors.append(CellError(outcome.row, header, prefix + text))


def _record(result: ImportResult, actor, name: str) -> None:
    record_event(
        subject_type=SubjectType.IMPORT,
        subject_ref="cases",
        action=Action.IMPORT,
        actor=actor,
        details={
            "sha256": result.sha256,
            "format": "xlsx" if name.lower().endswith((".xlsx", ".xlsm")) else "csv",
            "dry_run": result.dry_run,
            "applied": result.applied,
            "file_refused": result.refused is not None,
            "rows": result.counts(),
        },
    )
