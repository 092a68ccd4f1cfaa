"""The checks `prepare` and `clear` make. Each returns every problem found, in plain words.

The per-patient checks of an exit batch live in one function,
`patients.eligibility.exit_patient_findings`, which the batch builder's proposal
(`batches/proposal/`) and the patient page use too: a patient the system proposes is one
`prepare` would accept, and a patient it skips is skipped for the reason `prepare` would give."""

from collections import defaultdict
from datetime import date, datetime

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from patients.eligibility import Check, Finding, exit_patient_findings
from patients.models import Patient, Referral

from ..models import Batch, BatchMember, Clearance, Crossing, Direction
from .quotas import places_left

# What `prepare` says for each readiness item, in the order it says it.
_NOT_READY = {
    "fit_to_travel": gettext_lazy("patient %(ref)s is not fit to travel"),
    "documents_ready": gettext_lazy("patient %(ref)s: travel documents are not ready"),
    "transport_confirmed": gettext_lazy("patient %(ref)s: transport needs are not confirmed"),
    "companions_present": gettext_lazy(
        "patient %(ref)s: companions are not present at the facility"
    ),
}


def _prepare_messages(patient: Patient, day: date, finding: Finding) -> list[str]:
    ref = patient.case_reference
    match finding.check:
        case Check.NO_VALID_REFERRAL:
            return [
                _("patient %(ref)s has no approved referral valid on %(day)s")
                % {"ref": ref, "day": day.isoformat()}
            ]
        case Check.NOT_READY:
            return [
                str(text % {"ref": ref})
                for flag, text in _NOT_READY.items()
                if flag in finding.missing
            ]
        case Check.TOO_MANY_COMPANIONS:
            return [
                _("patient %(ref)s has %(companions)s companions; at most %(limit)s may travel")
                % {
                    "ref": ref,
                    "companions": finding.companions,
                    "limit": settings.MAX_COMPANIONS_PER_PATIENT,
                }
            ]
        case Check.CHILD_WITHOUT_GUARDIAN:
            return [_("patient %(ref)s is a child and has no guardian in the batch") % {"ref": ref}]
    raise ValueError(finding.check)


def _exit_problems(batch: Batch, lines: list[BatchMember]) -> tuple[list[str], int, int]:
    day = batch.planned_date
    patients = [line.patient for line in lines if line.patient_id]
    companions = defaultdict(list)
    for line in lines:
        if line.companion_id:
            companions[line.companion.patient_id].append(line.companion)
    problems = []
    if not patients:
        problems.append(_("batch %(code)s has no patient") % {"code": batch.code})
    with_referral = set(
        Referral.objects.valid_on(day)
        .filter(patient__in=patients)
        .values_list("patient_id", flat=True)
    )
    for patient in patients:
        findings = exit_patient_findings(
            patient,
            day=day,
            companions=companions.get(patient.pk, []),
            has_valid_referral=patient.pk in with_referral,
        )
        for finding in findings:
            problems += _prepare_messages(patient, day, finding)
    on_board = {p.pk for p in patients}
    for patient_id, theirs in companions.items():
        if patient_id not in on_board:
            for companion in theirs:
                problems.append(
                    _("companion #%(id)s travels without their patient %(ref)s")
                    % {"id": companion.pk, "ref": companion.patient.case_reference}
                )
    return problems, len(patients), sum(len(c) for c in companions.values())


def closed_crossing_problem(crossing: Crossing, occurred_at: datetime | None) -> str | None:
    """The closure that stops a batch being prepared at `occurred_at` (None: now), if any. The
    crossing's state is known from when it began (`state_since`): a step recorded late that
    occurred before the current state began is not judged by it, and is allowed (the state it
    had then is not what the crossing row holds)."""
    if not crossing.is_closed:
        return None
    if occurred_at is not None and occurred_at < crossing.state_since:
        return None
    return crossing.state_sentence()


def prepare_problems(
    batch: Batch, lines: list[BatchMember], *, occurred_at: datetime | None = None
) -> list[str]:
    """Everything that stops a draft from becoming a prepared batch at `occurred_at` (None:
    now), a closed crossing first."""
    crossing = batch.crossing
    closure = closed_crossing_problem(crossing, occurred_at)
    closed = [closure] if closure else []
    if batch.direction == Direction.EXIT:
        problems, people, companions = _exit_problems(batch, lines)
    else:
        people, companions = sum(1 for line in lines if line.returnee_id), 0
        problems = [] if people else [_("batch %(code)s has no returnee") % {"code": batch.code}]
    problems = closed + problems
    left = places_left(batch, lock=True)
    day = batch.planned_date.isoformat()
    exit_batch = batch.direction == Direction.EXIT
    if left is None:
        if exit_batch:
            message = _("no quota agreed for %(crossing)s exit on %(day)s")
        else:
            message = _("no quota agreed for %(crossing)s return on %(day)s")
        problems.append(message % {"crossing": crossing.name, "day": day})
        return problems
    if people > left.patients:
        if exit_batch:
            message = _(
                "%(left)s places left in the quota for %(day)s, batch has %(people)s patients"
            )
        else:
            message = _(
                "%(left)s places left in the quota for %(day)s, batch has %(people)s returnees"
            )
        problems.append(message % {"left": max(left.patients, 0), "day": day, "people": people})
    if companions > left.companions:
        problems.append(
            _(
                "%(left)s companion places left in the quota for %(day)s, "
                "batch has %(companions)s companions"
            )
            % {"left": max(left.companions, 0), "day": day, "companions": companions}
        )
    return problems


def clear_problems(batch: Batch, lines: list[BatchMember]) -> list[str]:
    """Every clearance decided, and no approved child without an approved guardian."""
    problems = []
    undecided = [line.label for line in lines if line.clearance == Clearance.PENDING]
    if undecided:
        problems.append(
            _("%(count)s people still await a clearance decision: %(people)s")
            % {"count": len(undecided), "people": _(", ").join(undecided)}
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
                _(
                    "patient %(ref)s is a child and no guardian was cleared: "
                    "record the patient as rejected or cancel the batch"
                )
                % {"ref": line.patient.case_reference}
            )
    return problems
