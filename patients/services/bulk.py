"""Registering many cases at once (a list imported): each case checked by the functions
`patient_register_with_family` checks it with (`new_patient`, `new_companion`, `new_referral`,
the duplicate national ID), their database look-ups made once for all the cases given, then
written with `bulk_create` and their events with `record_events`: the rows and events of each
case are the ones the one-at-a-time services write, in the same order."""

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from casetracker.audit.services import record_events

from ..models import Companion, Patient, Readiness, Referral
from .checks import ChunkLookups, Refused, constraint_error, merged
from .duplicates import _lock_national_ids, duplicate_error, open_holders
from .patients import (
    RegistrationRefused,
    _error_of,
    companion_added_event,
    draw_free_references,
    new_companion,
    new_patient,
    registered_event,
)
from .referrals import new_referral, referral_created_event

Part = tuple[str, int | None, ValidationError]


@dataclass(slots=True)
class CaseData:
    """What `patient_register_with_family` takes for one case. `refused`: the caller refused
    the case already (a cell it could not read): it is checked all the same, so every mistake
    is reported at once, and never written."""

    patient: dict[str, Any]
    companions: list[dict[str, Any]]
    referral: dict[str, Any] | None
    refused: bool = False


@dataclass(slots=True)
class _Case:
    data: CaseData
    patient: Patient | None = None
    refused: ValidationError | None = None  # the patient's refusal by the checks in memory
    companions: list[tuple[Companion | None, ValidationError | None]] = field(default_factory=list)
    referral: tuple[Referral | None, ValidationError | None] | None = None
    parts: list[Part] = field(default_factory=list)

    def rows(self) -> list:
        rows = [self.patient, *(row for row, _error in self.companions)]
        if self.referral is not None:
            rows.append(self.referral[0])
        return [row for row in rows if row is not None]


@transaction.atomic
def patients_register_bulk(
    *, actor, cases: list[CaseData], dry_run: bool = False
) -> list[Patient | RegistrationRefused]:
    """Register cases as `patient_register_with_family` registers each, in their order, with
    a few queries for them all: what it refuses is refused here with the same messages
    (`RegistrationRefused`), the other cases are written (the caller rolls back if it wants
    all or none). The national IDs given must differ (the caller names its own rows when a
    number is given twice): ValueError otherwise. Returns, per case, its patient (saved unless
    `refused`) or its refusal. No `occurred_at`: each case registers now.

    `dry_run`: the caller rolls everything back, so the rows are written (the database's own
    checks run) but no event is, and no national ID is locked: a list being checked holds
    neither the audit chain's head nor the registrations of other coordinators until it ends."""
    checked = [_checked(data) for data in cases]
    draw_free_references([case.patient for case in checked if case.patient is not None])
    numbers = [case.patient.national_id for case in checked if case.refused is None]
    if len(set(numbers)) != len(numbers):
        raise ValueError("the same national ID is given for two cases")
    if not dry_run:
        _lock_national_ids(numbers)
    holders = open_holders(Patient, numbers)
    lookups = ChunkLookups([row for case in checked for row in case.rows()])
    for case in checked:
        _look_up(case, lookups, holders, actor)
    writing = [case for case in checked if not case.parts and not case.data.refused]
    try:
        with transaction.atomic():
            _write(writing, actor, events=not dry_run)
    except IntegrityError:
        # A check constraint the look-ups leave to the database: Django's own check, row by
        # row, finds the cases it refuses; a refusal it cannot explain is raised.
        for case in writing:
            _check_constraints(case)
        if all(not case.parts for case in writing):
            raise
        for case in writing:  # as they were before the insert rolled back
            for row in case.rows():
                row.pk, row._state.adding = None, True
                if row is not case.patient:
                    row.patient = case.patient
        _write([case for case in writing if not case.parts], actor, events=not dry_run)
    return [RegistrationRefused(case.parts) if case.parts else case.patient for case in checked]


def _checked(data: CaseData) -> _Case:
    """The checks made in memory; a patient refused is refused alone (as
    `patient_register_with_family` refuses it before trying its companions)."""
    case = _Case(data)
    case.patient, case.refused = _part(new_patient, None, data.patient)
    if case.refused is not None:
        return case
    for values in data.companions:
        case.companions.append(_part(new_companion, case.patient, values))
    if data.referral is not None:
        case.referral = _part(new_referral, case.patient, data.referral)
    return case


def _part(new, patient: Patient | None, values: dict[str, Any]) -> tuple:
    try:
        if patient is None:
            return new(batched=True, **values), None
        return new(patient=patient, batched=True, **values), None
    except Refused as exc:
        return exc.row, exc
    except ValidationError as exc:  # a field that cannot be set: no row to look up
        return None, exc


def _look_up(case: _Case, lookups: ChunkLookups, holders: dict, actor) -> None:
    """The checks that ask the database, from the look-ups made for all the cases."""
    error = _part_error(case.patient, case.refused, lookups)
    if error is None and case.patient.national_id in holders:
        error = duplicate_error(holders[case.patient.national_id], actor=actor)
    if error is not None:
        case.parts.append(("patient", None, error))
        case.companions, case.referral = [], None
        return
    for index, (row, refused) in enumerate(case.companions):
        if error := _part_error(row, refused, lookups):
            case.parts.append(("companion", index, error))
    if case.referral is not None and (error := _part_error(*case.referral, lookups)):
        case.parts.append(("referral", None, error))
    if not case.parts and not case.data.refused:
        for row in case.rows():
            lookups.take(row)


def _part_error(row, refused: ValidationError | None, lookups: ChunkLookups):
    failed = set(getattr(refused, "error_dict", {}))
    more = lookups.errors(row, failed=failed) if row is not None else {}
    error = merged(refused, more)
    return _error_of(error) if error is not None else None


def _check_constraints(case: _Case) -> None:
    if error := constraint_error(case.patient):
        case.parts.append(("patient", None, _error_of(error)))
        return
    for index, (row, _refused) in enumerate(case.companions):
        if error := constraint_error(row):
            case.parts.append(("companion", index, _error_of(error)))
    if case.referral is not None and (error := constraint_error(case.referral[0])):
        case.parts.append(("referral", None, _error_of(error)))


def _write(cases: list[_Case], actor, *, events: bool) -> None:
    Patient.objects.bulk_create([case.patient for case in cases], batch_size=500)
    Readiness.objects.bulk_create(
        [Readiness(patient=case.patient, updated_by=actor) for case in cases], batch_size=500
    )
    companions = [row for case in cases for row, _error in case.companions]
    Companion.objects.bulk_create(companions, batch_size=500)
    referrals = [case.referral[0] for case in cases if case.referral is not None]
    Referral.objects.bulk_create(referrals, batch_size=500)
    if not events:
        return
    written = []
    for case in cases:
        written.append(registered_event(case.patient, actor=actor))
        written.extend(companion_added_event(row, actor=actor) for row, _e in case.companions)
        if case.referral is not None:
            written.append(referral_created_event(case.referral[0], actor=actor))
    record_events(written)
