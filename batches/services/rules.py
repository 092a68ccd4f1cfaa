"""The checks `prepare` and `clear` make. Each returns every problem found, in plain words."""

from collections import defaultdict

from django.conf import settings

from patients.models import Referral

from ..models import Batch, BatchMember, Clearance, Direction
from .quotas import places_left


def _exit_problems(batch: Batch, lines: list[BatchMember]) -> tuple[list[str], int, int]:
    day = batch.planned_date
    patients = [line.patient for line in lines if line.patient_id]
    companions = defaultdict(list)
    for line in lines:
        if line.companion_id:
            companions[line.companion.patient_id].append(line.companion)
    problems = []
    if not patients:
        problems.append(f"batch {batch.code} has no patient")
    with_referral = set(
        Referral.objects.valid_on(day)
        .filter(patient__in=patients)
        .values_list("patient_id", flat=True)
    )
    for patient in patients:
        ref = patient.case_reference
        if patient.pk not in with_referral:
            problems.append(f"patient {ref} has no approved referral valid on {day.isoformat()}")
        readiness = getattr(patient, "readiness", None)
        theirs = companions.get(patient.pk, [])
        if readiness is None or not readiness.fit_to_travel:
            problems.append(f"patient {ref} is not fit to travel")
        if readiness is None or not readiness.documents_ready:
            problems.append(f"patient {ref}: travel documents are not ready")
        if readiness is None or not readiness.transport_confirmed:
            problems.append(f"patient {ref}: transport needs are not confirmed")
        if theirs and (readiness is None or not readiness.companions_present):
            problems.append(f"patient {ref}: companions are not present at the facility")
        if len(theirs) > settings.MAX_COMPANIONS_PER_PATIENT:
            problems.append(
                f"patient {ref} has {len(theirs)} companions; "
                f"at most {settings.MAX_COMPANIONS_PER_PATIENT} may travel"
            )
        if patient.is_child_on(day) and not any(
            c.is_guardian and c.is_adult_on(day) for c in theirs
        ):
            problems.append(f"patient {ref} is a child and has no guardian in the batch")
    on_board = {p.pk for p in patients}
    for patient_id, theirs in companions.items():
        if patient_id not in on_board:
            for companion in theirs:
                problems.append(
                    f"companion #{companion.pk} travels without their patient "
                    f"{companion.patient.case_reference}"
                )
    return problems, len(patients), sum(len(c) for c in companions.values())


def prepare_problems(batch: Batch, lines: list[BatchMember]) -> list[str]:
    """Everything that stops a draft from becoming a prepared batch."""
    if batch.direction == Direction.EXIT:
        problems, people, companions = _exit_problems(batch, lines)
    else:
        people, companions = sum(1 for line in lines if line.returnee_id), 0
        problems = [] if people else [f"batch {batch.code} has no returnee"]
    left = places_left(batch, lock=True)
    day = batch.planned_date.isoformat()
    if left is None:
        problems.append(f"no quota agreed for {batch.crossing} {batch.direction} on {day}")
        return problems
    noun = "patients" if batch.direction == Direction.EXIT else "returnees"
    if people > left.patients:
        problems.append(
            f"{max(left.patients, 0)} places left in the quota for {day}, batch has {people} {noun}"
        )
    if companions > left.companions:
        problems.append(
            f"{max(left.companions, 0)} companion places left in the quota for {day}, "
            f"batch has {companions} companions"
        )
    return problems


def clear_problems(batch: Batch, lines: list[BatchMember]) -> list[str]:
    """Every clearance decided, and no approved child without an approved guardian."""
    problems = []
    undecided = [line.person_reference for line in lines if line.clearance == Clearance.PENDING]
    if undecided:
        problems.append(
            f"{len(undecided)} people still await a clearance decision: {', '.join(undecided)}"
        )
        return problems
    day = batch.planned_date
    for line in lines:
        if not line.patient_id or line.clearance != Clearance.APPROVED:
            continue
        if line.patient.is_child_on(day) and not any(
            other.companion_id
            and other.companion.patient_id == line.patient_id
            and other.companion.is_guardian
            and other.companion.is_adult_on(day)
            and other.clearance == Clearance.APPROVED
            for other in lines
        ):
            problems.append(
                f"patient {line.patient.case_reference} is a child and no guardian was cleared: "
                "record the patient as rejected or cancel the batch"
            )
    return problems
