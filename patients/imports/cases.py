"""Importing a list of cases: every row through the registration services, all rows or none.

A dry run and a real import do the same work, in one transaction, `CHUNK_ROWS` rows at a time
(read from the file as they come, forgotten once their chunk is done): the rows of a chunk are
registered together by `patients_register_bulk` (the checks of `patient_register_with_family`,
with their look-ups made once per chunk, and bulk inserts); a row naming a case already held
updates it through `patient_update`, in a savepoint of its own. A refused row is left out, and
the rows after it are still checked against everything before. The dry run then rolls the
whole transaction back, and so does a real import with any row refused: the rules are the
services' own, never copied here.

Each import, dry run or real, refused or applied, is one audit event: who, the SHA-256 of the
file and the row counts by outcome; never a name, a number or a cell."""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
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

# Rows registered together: a few queries and inserts for each chunk, whatever its size, and
# the memory of one chunk's rows.
CHUNK_ROWS = 500


@dataclass(slots=True)
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
            if not dry_run:
                _one_import_at_a_time()
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


# A transaction-level advisory lock of its own (one key; the national-ID locks take two).
IMPORT_LOCK = 0x494D504F5254  # "IMPORT"


class ImportBusy(FileRefused):
    """Another import is running: the file is fine, it can be imported again in a moment."""


def _one_import_at_a_time() -> None:
    """Imports (not dry runs) run one at a time: each locks national IDs chunk by chunk until it
    commits, and two at once could lock them in crossed orders. The second is refused at once,
    saying why, rather than waiting (past the statement timeout) or failing on a deadlock."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [IMPORT_LOCK])
        if not cursor.fetchone()[0]:
            raise ImportBusy(
                _(
                    "another list of cases is being imported at this moment; nothing was saved: "
                    "import this one again in a minute"
                )
            )


def _import_rows(result: ImportResult, file, name, actor, update_fields, progress) -> None:
    table = open_table(file, name=name)
    layout = Layout(table.headers, actor=actor)
    # The keyed hash of each national ID read -> the row that first gave it: all that is kept of
    # the rows once their chunk is done.
    seen: dict[bytes, int] = {}
    chunk: list[ParsedRow] = []
    for number, cells in table.rows:
        chunk.append(layout.parse(number, cells))
        if len(chunk) == CHUNK_ROWS:
            _import_chunk(result, chunk, layout, actor, update_fields, seen)
            _progress(progress, result, len(chunk), table.size_hint)
            chunk = []
    if chunk:
        _import_chunk(result, chunk, layout, actor, update_fields, seen)
        _progress(progress, result, len(chunk), table.size_hint)
    if not result.rows:
        raise FileRefused(_("the file holds no rows under its headers"), row=2)


def _progress(progress, result: ImportResult, done: int, size_hint: int | None) -> None:
    if progress is not None:
        for count in range(len(result.rows) - done + 1, len(result.rows) + 1):
            progress(count, size_hint)


def _import_chunk(result, chunk: list[ParsedRow], layout, actor, update_fields, seen) -> None:
    """A chunk of rows, in their order: a number given twice in the file is refused naming the
    first row, a number an open case holds updates it (or is refused), and the other rows are
    registered together through `patients_register_bulk`."""
    id_header = layout.header_of(PATIENT, "national_id")
    # Each outcome takes its row's list of cell errors (the row is dropped with its chunk).
    outcomes = [RowOutcome(row=p.number, outcome=CREATE, errors=p.errors) for p in chunk]
    numbers: dict[int, str] = {}  # index in the chunk -> the number, given once in the file
    twice: set[int] = set()  # rows giving a number an earlier row gave: refused, no more
    for index, parsed in enumerate(chunk):
        number = normalise_national_id(str(parsed.patient.get("national_id", "")))
        if not (number.isascii() and number.isdigit()):
            continue
        key = bytes.fromhex(crypto.keyed_hash(number))
        if key in seen:
            outcomes[index].errors.append(
                CellError(
                    parsed.number,
                    id_header,
                    _("the same national ID as row %(row)d") % {"row": seen[key]},
                )
            )
            twice.add(index)
            continue
        seen[key] = parsed.number
        numbers[index] = number
    held = services.open_holders(Patient, numbers.values())
    registering = []
    for index, parsed in enumerate(chunk):
        if index in numbers and numbers[index] in held:
            _update_row(outcomes[index], held[numbers[index]], parsed, layout, actor, update_fields)
        elif index not in twice:
            registering.append(index)
    cases = services.patients_register_bulk(
        actor=actor,
        cases=[
            services.CaseData(
                patient=chunk[i].patient,
                companions=[data for _slot, data in chunk[i].companions],
                referral=chunk[i].referral,
                refused=bool(outcomes[i].errors),
            )
            for i in registering
        ],
        dry_run=result.dry_run,
    )
    for index, case in zip(registering, cases, strict=True):
        if isinstance(case, services.RegistrationRefused):
            slots = [slot for slot, _data in chunk[index].companions]
            for part, place, error in case.parts:
                slot = slots[place] if part == COMPANION and place is not None else None
                _add_errors(outcomes[index], error, layout, part, slot)
        elif not result.dry_run and not outcomes[index].errors:
            outcomes[index].reference = case.case_reference
    for outcome in outcomes:
        if outcome.errors:
            outcome.outcome, outcome.reference, outcome.changed = REJECT, "", []
        result.rows.append(outcome)


def _update_row(outcome: RowOutcome, case: Patient, parsed, layout, actor, update_fields) -> None:
    """`_update` in a savepoint of its own: a refused update is undone alone."""
    try:
        with transaction.atomic():
            _update(outcome, case, parsed, layout, actor, update_fields)
            if outcome.errors:
                raise _RowRefused(outcome)
    except _RowRefused:
        pass


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
