"""Reading the queue for the proposal: the people who may be proposed, each as a candidate
with what stops them from travelling, and the open batches they are already on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.db.models import Prefetch

from patients.eligibility import exit_patient_findings, guardian_first
from patients.models import (
    Companion,
    Patient,
    PatientStatus,
    Referral,
    ReferralStatus,
    Returnee,
    ReturneeStatus,
)

from ..models import BatchMember
from .reasons import Why, _not_waiting, _on_batch, finding_reason

# Columns never needed here: decrypting national IDs costs per row (DESIGN section 7).
_PERSON_DEFER = ("national_id", "national_id_hash")


@dataclass(frozen=True)
class ProposedCompanion:
    companion: Companion
    age: int
    is_adult: bool
    proposed: bool  # within the limit (guardian first); the others are listed unticked


@dataclass
class ProposedPatient:
    patient: Patient
    age: int
    is_child: bool
    companions: list[ProposedCompanion]

    @property
    def reference(self) -> str:
        return self.patient.case_reference

    @property
    def travelling(self) -> list[Companion]:
        return [c.companion for c in self.companions if c.proposed]


@dataclass
class ProposedReturnee:
    returnee: Returnee
    age: int

    @property
    def reference(self) -> str:
        return self.returnee.reference


def exit_candidates(user, day: date):
    """Patients the user may see, with what the checks read prefetched. Not filtered by
    status, so the builder can also explain a case reference typed by hand."""
    return (
        Patient.objects.visible_to(user)
        .select_related("readiness", "facility")
        .defer("diagnosis", *_PERSON_DEFER)
        .prefetch_related(
            Prefetch(
                "companions",
                queryset=Companion.objects.defer(*_PERSON_DEFER).order_by("id"),
                to_attr="registered_companions",
            ),
            # Validity on `day` is read from these (`Referral.is_valid_on`).
            Prefetch(
                "referrals",
                queryset=Referral.objects.filter(
                    status__in=(ReferralStatus.APPROVED, ReferralStatus.PENDING)
                ).only("id", "patient_id", "status", "issued_on", "expires_on"),
                to_attr="open_referrals",
            ),
        )
    )


def return_candidates(user):
    return Returnee.objects.visible_to(user).defer(*_PERSON_DEFER)


def open_batches(field_name: str, people: Iterable) -> dict[int, str]:
    """Person id -> code of the open batch they are on, in one query."""
    ids = [p.pk for p in people]
    if not ids:
        return {}
    lines = BatchMember.objects.filter(is_open=True, **{f"{field_name}__in": ids})
    return dict(lines.values_list(f"{field_name}_id", "batch__code"))


def evaluate_patient(
    patient: Patient, day: date, *, on_batch: str | None = None
) -> tuple[ProposedPatient, list[Why]]:
    """A patient read through `exit_candidates`: their place in a proposal (companions guardian
    first, the first ones up to the limit proposed) and what stops them from travelling."""
    ordered = guardian_first(patient.registered_companions, day)
    limit = settings.MAX_COMPANIONS_PER_PATIENT
    companions = [
        ProposedCompanion(c, c.age_on(day), c.is_adult_on(day), proposed=i < limit)
        for i, c in enumerate(ordered)
    ]
    candidate = ProposedPatient(
        patient=patient,
        age=patient.age_on(day),
        is_child=patient.is_child_on(day),
        companions=companions,
    )
    return candidate, patient_reasons(patient, day, candidate.travelling, on_batch=on_batch)


def patient_reasons(
    patient: Patient, day: date, companions: list[Companion], *, on_batch: str | None = None
) -> list[Why]:
    """Why this patient, read through `exit_candidates`, cannot travel on `day` with these
    companions: not waiting, and every check `prepare` makes (`rules.exit_patient_findings`)."""
    reasons = []
    if patient.status == PatientStatus.SCHEDULED:
        reasons.append(_on_batch(on_batch))
    elif patient.status != PatientStatus.WAITING:
        reasons.append(_not_waiting(patient.get_status_display()))
    findings = exit_patient_findings(
        patient,
        day=day,
        companions=companions,
        has_valid_referral=any(r.is_valid_on(day) for r in patient.open_referrals),
    )
    return reasons + [finding_reason(patient, day, f) for f in findings]


def evaluate_returnee(
    returnee: Returnee, day: date, *, on_batch: str | None = None
) -> tuple[ProposedReturnee, list[Why]]:
    reasons = []
    if returnee.status == ReturneeStatus.SCHEDULED:
        reasons.append(_on_batch(on_batch))
    elif returnee.status != ReturneeStatus.WAITING:
        reasons.append(_not_waiting(returnee.get_status_display()))
    return ProposedReturnee(returnee, returnee.age_on(day)), reasons


def check_patient(*, user, reference: str, day: date):
    """One case typed by hand (the builder's "add"): (candidate, reasons), or None when the
    user may see no such case."""
    patient = exit_candidates(user, day).filter(case_reference=reference).first()
    if patient is None:
        return None
    on_batch = open_batches("patient", [patient]).get(patient.pk)
    return evaluate_patient(patient, day, on_batch=on_batch)


def check_returnee(*, user, reference: str, day: date):
    returnee = return_candidates(user).filter(reference=reference).first()
    if returnee is None:
        return None
    on_batch = open_batches("returnee", [returnee]).get(returnee.pk)
    return evaluate_returnee(returnee, day, on_batch=on_batch)
