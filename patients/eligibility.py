"""Whether a patient can travel on a day: the per-patient checks of an exit batch, in one
place. `prepare` (batches/services/rules.py), the batch builder's proposal and the patient page
all read them, so they never disagree."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from django.conf import settings

from .models import Companion, Patient, Readiness


class Check(StrEnum):
    """Why a patient may not travel on a day, as a machine code (the API gives these too)."""

    NO_VALID_REFERRAL = "no_valid_referral"
    NOT_READY = "not_ready"
    TOO_MANY_COMPANIONS = "too_many_companions"
    CHILD_WITHOUT_GUARDIAN = "child_without_guardian"


@dataclass(frozen=True)
class Finding:
    """One check a patient fails. `missing`: the readiness flags not reported (NOT_READY);
    `companions`: how many companions would travel (TOO_MANY_COMPANIONS)."""

    check: Check
    missing: tuple[str, ...] = ()
    companions: int = 0


def missing_readiness(patient: Patient, *, with_companions: bool) -> list[str]:
    """The readiness items not reported, by flag name; all of them without a readiness row."""
    readiness = getattr(patient, "readiness", None) or Readiness()
    return readiness.missing(with_companions=with_companions)


def exit_patient_findings(
    patient: Patient, *, day: date, companions: Sequence[Companion], has_valid_referral: bool
) -> list[Finding]:
    """Everything that stops this patient, with these companions, from travelling on `day`:
    an approved referral valid that day, every readiness item (companions present only when
    some travel), companions within the limit, and a child with an adult guardian among them."""
    findings = []
    if not has_valid_referral:
        findings.append(Finding(Check.NO_VALID_REFERRAL))
    missing = missing_readiness(patient, with_companions=bool(companions))
    if missing:
        findings.append(Finding(Check.NOT_READY, missing=tuple(missing)))
    if len(companions) > settings.MAX_COMPANIONS_PER_PATIENT:
        findings.append(Finding(Check.TOO_MANY_COMPANIONS, companions=len(companions)))
    if patient.is_child_on(day) and not has_adult_guardian(companions, day):
        findings.append(Finding(Check.CHILD_WITHOUT_GUARDIAN))
    return findings


def guardian_first(companions: Iterable[Companion], day: date) -> list[Companion]:
    """Adult guardians first, then other guardians, then in the order they were registered."""
    return sorted(
        companions,
        key=lambda c: (not (c.is_guardian and c.is_adult_on(day)), not c.is_guardian, c.pk),
    )


def has_adult_guardian(companions: Iterable[Companion], day: date) -> bool:
    """A child travels only with a companion marked guardian who is an adult on that day."""
    return any(c.is_guardian and c.is_adult_on(day) for c in companions)
